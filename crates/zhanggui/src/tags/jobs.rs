//! Background work on tags: bulk operations (tag or untag every follower a filter matches)
//! and pushing one follower's tags to WeChat.
//!
//! A bulk operation is a chain of jobs, each handling one slice of at most
//! [`OPENIDS_PER_RUN`] followers in openid order, 50 per WeChat call, recording progress
//! after every call: a killed instance's job is taken over when its lease runs out and goes
//! on from the last openid recorded. Each job of the chain carries the operation's step;
//! moving to the next step and enqueueing its job happen in one transaction, so a job run
//! twice after a crash never forks the chain. Followers who already carry 20 tags, or no
//! longer follow, are skipped with the reason kept; the operation goes on without them.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wechat::api::ApiError;
use wechat::api::tags as wx;
use wechat::token::TokenCache;

use super::model::{self, BulkAction, Eligibility};
use super::store::{self, BatchProgress, OperationRow};
use crate::followers::Filter;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{Lang, Msg};
use crate::platform::jobs::{self, JobContext, JobError, NewJob};
use crate::platform::state::AppState;

pub const BULK_KIND: &str = "tags.bulk";
pub const PUSH_KIND: &str = "tags.push_follower";
/// Followers one job of a bulk operation handles before handing over to the next.
pub const OPENIDS_PER_RUN: i64 = 500;
/// Skipped and failed followers whose reasons an operation keeps.
pub const MAX_PROBLEMS: usize = 100;

// ---- the followers a bulk operation works on ----

/// The followers' filter of a bulk operation as the API takes it: the JSON of
/// `followers::Filter` (`{}` is every follower of the account).
pub type AudienceFilter = serde_json::Value;

pub fn parse_filter(filter: &AudienceFilter) -> Result<Filter, AppError> {
    let parsed = if filter.is_null() {
        Ok(Filter::everyone())
    } else {
        serde_json::from_value::<Filter>(filter.clone())
    };
    match parsed {
        Ok(f) if f.validate().is_ok() => Ok(f),
        _ => {
            let mut f = FieldErrors::default();
            f.add("filter", Msg::new("tags.filter_invalid"));
            Err(AppError::Validation(f))
        }
    }
}

/// How many followers the filter matches now.
pub async fn audience_count(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &AudienceFilter,
    now: Millis,
) -> Result<i64, AppError> {
    let filter = parse_filter(filter)?;
    Ok(crate::followers::query::count(db, merchant_id, account_id, &filter, now).await?)
}

// ---- bulk operations ----

#[derive(Serialize, Deserialize)]
struct BulkPayload {
    operation: i64,
    step: i64,
}

pub async fn enqueue_bulk(
    tx: &mut Tx,
    now: Millis,
    merchant_id: i64,
    operation: i64,
    step: i64,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(BULK_KIND, json!({ "operation": operation, "step": step }))
        .merchant(merchant_id);
    jobs::enqueue(tx, now, job).await
}

/// One skipped or failed follower, as the operation keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    pub openid: String,
    /// The message key of the reason (`tags.skip_follower_full`, `tags.wx_…`).
    pub reason: String,
}

impl Problem {
    /// The reason in the reader's language.
    pub fn reason_text(&self, lang: Lang) -> String {
        if crate::platform::i18n::has_key(&self.reason) {
            lang.t(&self.reason).to_string()
        } else {
            self.reason.clone()
        }
    }
}

/// Why a slice stopped.
enum Stop {
    /// Retrying cannot help: the operation fails with this reason (a message key).
    Final(String),
    Retry(String),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Stop {
        Stop::Retry(format!("database: {e}"))
    }
}

pub async fn run_bulk(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let p: BulkPayload = ctx.payload_as()?;
    let Some(op) = store::operation(&ctx.db, None, p.operation).await? else {
        return Ok(()); // its tag was deleted, and the operation with it
    };
    if op.status != "running" || op.step != p.step {
        return Ok(()); // a stale copy: another run moved on
    }
    match bulk_slice(&state, &ctx, &op).await {
        Ok(()) => Ok(()),
        Err(Stop::Final(reason)) => {
            tracing::warn!(operation = op.id, %reason, "bulk tagging stopped");
            store::finish_operation(&ctx.db, op.id, "failed", &reason, ctx.clock.now_ms()).await?;
            Ok(())
        }
        Err(Stop::Retry(e)) => {
            if ctx.is_last_attempt() {
                store::finish_operation(&ctx.db, op.id, "failed", &e, ctx.clock.now_ms()).await?;
            }
            Err(JobError::Retry(e))
        }
    }
}

async fn bulk_slice(state: &AppState, ctx: &JobContext, op: &OperationRow) -> Result<(), Stop> {
    let (m, a) = (op.merchant_id, op.account_id);
    let account = crate::accounts::get(&ctx.db, m, a)
        .await?
        .ok_or_else(|| Stop::Final("tags.op_account_gone".into()))?;
    let tag = store::get(&ctx.db, m, a, op.tag_id)
        .await?
        .ok_or_else(|| Stop::Final("tags.op_tag_gone".into()))?;
    let action =
        BulkAction::parse(&op.action).ok_or_else(|| Stop::Final("tags.op_bad_action".into()))?;
    let filter: Filter =
        serde_json::from_str(&op.filter).map_err(|_| Stop::Final("tags.op_bad_filter".into()))?;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    // The operation's start is its `now`, so relative windows keep meaning the same followers.
    let openids = crate::followers::query::openids_matching(
        &ctx.db,
        m,
        a,
        &filter,
        op.started_at,
        &op.after_openid,
        OPENIDS_PER_RUN,
    )
    .await?;
    let mut problems: Vec<Problem> = serde_json::from_str(&op.problems).unwrap_or_default();
    for batch in openids.chunks(model::TAGGING_BATCH) {
        let progress = tag_batch(
            ctx,
            op,
            &tokens,
            action,
            tag.wx_tag_id,
            batch,
            &mut problems,
        )
        .await?;
        if !store::record_batch(&ctx.db, op.id, op.step, &progress, ctx.clock.now_ms()).await? {
            return Ok(()); // someone else owns the operation now
        }
    }
    let now = ctx.clock.now_ms();
    if (openids.len() as i64) < OPENIDS_PER_RUN {
        store::finish_operation(&ctx.db, op.id, "done", "", now).await?;
        return Ok(());
    }
    let mut tx = ctx.db.begin().await?;
    if store::next_step(&mut tx, op.id, op.step, now).await? {
        enqueue_bulk(&mut tx, now, m, op.id, op.step + 1).await?;
    }
    tx.commit().await?;
    state.jobs.wake();
    Ok(())
}

/// Tags or untags one batch (≤ 50) at WeChat, then ours; returns what to record.
#[allow(clippy::too_many_arguments)]
async fn tag_batch(
    ctx: &JobContext,
    op: &OperationRow,
    tokens: &TokenCache,
    action: BulkAction,
    wx_tag_id: i64,
    batch: &[String],
    problems: &mut Vec<Problem>,
) -> Result<BatchProgress, Stop> {
    let (m, a) = (op.merchant_id, op.account_id);
    let known = store::tagging_state(&ctx.db, m, a, op.tag_id, batch).await?;
    let mut progress = BatchProgress {
        after_openid: batch.last().cloned().unwrap_or_default(),
        ..BatchProgress::default()
    };
    let mut send = Vec::new();
    for openid in batch {
        let state = known.iter().find(|s| &s.openid == openid);
        let verdict = match state {
            Some(s) => model::eligibility(action, s.subscribed, s.tags as usize, s.has_tag > 0),
            None => Eligibility::Skip("tags.skip_unknown_follower"),
        };
        match verdict {
            Eligibility::Send => send.push(openid.clone()),
            Eligibility::AlreadyThere => progress.done += 1,
            Eligibility::Skip(reason) => {
                progress.skipped += 1;
                note(problems, openid, reason);
            }
        }
    }
    let (accepted, refused) = send_batch(tokens, action, wx_tag_id, &send).await?;
    for (openid, reason) in &refused {
        progress.failed += 1;
        note(problems, openid, reason);
    }
    progress.done += accepted.len() as i64;
    let now = ctx.clock.now_ms();
    match action {
        BulkAction::Tag => store::add_members(&ctx.db, m, a, op.tag_id, &accepted, now).await?,
        BulkAction::Untag => store::remove_members(&ctx.db, m, a, op.tag_id, &accepted).await?,
    }
    progress.problems = serde_json::to_string(problems).unwrap_or_else(|_| "[]".into());
    Ok(progress)
}

fn note(problems: &mut Vec<Problem>, openid: &str, reason: &str) {
    if problems.len() < MAX_PROBLEMS {
        problems.push(Problem {
            openid: openid.to_string(),
            reason: reason.to_string(),
        });
    }
}

/// Refusals that concern one follower of a batch: the batch is then sent one by one so that
/// the others still get their tag.
fn is_per_follower_refusal(e: &ApiError) -> bool {
    matches!(e.errcode(), Some(45059 | 40003 | 43004))
}

async fn call(
    tokens: &TokenCache,
    action: BulkAction,
    wx_tag_id: i64,
    openids: &[String],
) -> Result<(), ApiError> {
    match action {
        BulkAction::Tag => wx::tag_users(tokens, wx_tag_id, openids).await,
        BulkAction::Untag => wx::untag_users(tokens, wx_tag_id, openids).await,
    }
}

/// Sends a batch; on a refusal that concerns one follower, each one alone. Returns the
/// openids WeChat accepted and those it refused, with the reason's message key.
async fn send_batch(
    tokens: &TokenCache,
    action: BulkAction,
    wx_tag_id: i64,
    openids: &[String],
) -> Result<(Vec<String>, Vec<(String, &'static str)>), Stop> {
    if openids.is_empty() {
        return Ok((vec![], vec![]));
    }
    match call(tokens, action, wx_tag_id, openids).await {
        Ok(()) => return Ok((openids.to_vec(), vec![])),
        Err(e) if is_per_follower_refusal(&e) => {}
        Err(e) => return Err(stop_for(&e)),
    }
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for openid in openids {
        let one = std::slice::from_ref(openid);
        match call(tokens, action, wx_tag_id, one).await {
            Ok(()) => accepted.push(openid.clone()),
            Err(e) if is_per_follower_refusal(&e) => {
                refused.push((openid.clone(), refusal_key(&e)));
            }
            Err(e) => return Err(stop_for(&e)),
        }
    }
    Ok((accepted, refused))
}

fn refusal_key(e: &ApiError) -> &'static str {
    e.errcode()
        .map_or("wxerr.other", |c| model::explain_refusal(c).key)
}

fn stop_for(e: &ApiError) -> Stop {
    match e.errcode() {
        Some(code) if model::is_final_refusal(code) => {
            Stop::Final(model::explain_refusal(code).key.to_string())
        }
        _ => Stop::Retry(e.to_string()),
    }
}

// ---- pushing one follower's tags ----

#[derive(Serialize, Deserialize)]
struct PushPayload {
    merchant_id: i64,
    account_id: i64,
    openid: String,
}

pub async fn enqueue_push(
    tx: &mut Tx,
    now: Millis,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(
        PUSH_KIND,
        json!({ "merchant_id": merchant_id, "account_id": account_id, "openid": openid }),
    )
    .merchant(merchant_id);
    jobs::enqueue(tx, now, job).await
}

/// `tags.push_follower`: makes WeChat's tags of the follower equal ours (getidlist, then
/// tag and untag the difference; tags we do not know are left alone).
pub async fn run_push(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let p: PushPayload = ctx.payload_as()?;
    let Some(account) = crate::accounts::get(&ctx.db, p.merchant_id, p.account_id).await? else {
        return Ok(()); // the account is gone: nothing to push to
    };
    let ours = store::tags_of(&ctx.db, p.merchant_id, p.account_id, &p.openid).await?;
    let wanted: Vec<i64> = ours.iter().map(|(_, wx)| *wx).collect();
    let known: Vec<i64> = store::id_map(&ctx.db, p.merchant_id, p.account_id)
        .await?
        .into_iter()
        .map(|(_, wx)| wx)
        .collect();
    let tokens = crate::accounts::tokens::cache_of(&state, &account);
    match super::push_to_wechat(&tokens, &p.openid, &wanted, &known).await {
        Ok(()) => Ok(()),
        // They left (or never were): WeChat keeps no tags to fix.
        Err(e) if matches!(e.errcode(), Some(43004 | 40003)) => {
            tracing::info!(openid = %p.openid, error = %e, "tags not pushed: not a follower");
            Ok(())
        }
        Err(e) if e.errcode().is_some_and(model::is_final_refusal) => {
            Err(JobError::Permanent(e.to_string()))
        }
        Err(e) => Err(JobError::retry(e)),
    }
}
