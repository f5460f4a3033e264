//! Late answers: a module that needs longer than the callback's budget answers by
//! customer-service message instead of passive reply.
//!
//! The callback answers `success` at the budget and, before answering, records the late
//! answer and enqueues its job in one transaction, keyed by the message's dedup key — so a
//! retried or concurrent delivery never schedules a second one. The job asks the module again
//! (modules are idempotent) with no budget but its own timeout, then sends the answer through
//! the account's shared token. WeChat's final refusals (window closed 45015, quota 45047,
//! unfollowed 43004 …) end the job with the reason recorded; anything else is retried with
//! the queue's back-off, 45009 (daily quota) included.

use std::time::Duration;

use serde_json::json;
use wechat::api::custom::{self, CustomMessage};

use super::modules::ModuleCall;
use crate::on_pool;
use crate::on_tx;
use crate::platform::clock::Millis;
use crate::platform::db::Db;
use crate::platform::jobs::{self, JobContext, JobError, NewJob};
use crate::platform::state::AppState;

/// How long the callback lets a module answer before it answers `success` and goes late.
/// WeChat waits 5 s; the log write after the answer has its own budget.
pub const REPLY_BUDGET: Duration = Duration::from_millis(1800);
/// How long a module may take in the job.
pub const LATE_ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
pub const JOB_KIND: &str = "messages.late_reply";
/// A late answer is worthless once the window it could be sent in has closed (48 h after a
/// message); WeChat would refuse it anyway.
const MAX_ATTEMPTS: i64 = 10;

/// One late answer, as the callback records it.
#[derive(Clone, Debug)]
pub struct LateAnswer<'a> {
    pub merchant_id: i64,
    pub account_id: i64,
    pub dedup_key: &'a str,
    pub openid: &'a str,
    pub module: &'a str,
    pub body: &'a str,
}

/// Records a late answer and enqueues its job, once per message: `false` when an earlier
/// delivery of the same message already did.
pub async fn schedule(db: &Db, now: Millis, late: &LateAnswer<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO late_replies (merchant_id, account_id, dedup_key, openid, module, body, \
         status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) \
         ON CONFLICT (account_id, dedup_key) DO NOTHING RETURNING id"
    )
    .bind(late.merchant_id)
    .bind(late.account_id)
    .bind(late.dedup_key)
    .bind(late.openid)
    .bind(late.module)
    .bind(late.body)
    .bind(now)
    .fetch_optional(c)
    .await)?;
    let Some(id) = id else {
        return Ok(false);
    };
    let job = NewJob::new(JOB_KIND, json!({ "late_reply": id }))
        .merchant(late.merchant_id)
        .max_attempts(MAX_ATTEMPTS);
    jobs::enqueue(&mut tx, now, job).await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug, sqlx::FromRow)]
struct Pending {
    merchant_id: i64,
    account_id: i64,
    dedup_key: String,
    openid: String,
    module: String,
    body: String,
    status: String,
}

async fn load(db: &Db, id: i64) -> Result<Option<Pending>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, Pending>(
        "SELECT merchant_id, account_id, dedup_key, openid, module, body, status \
         FROM late_replies WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

async fn finish(
    db: &Db,
    id: i64,
    status: &str,
    detail: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE late_replies SET status = $2, detail = $3, updated_at = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(status)
    .bind(detail)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The passive reply logged for the message, if it was answered after all (a retry that found
/// the module quick enough).
async fn logged_reply(
    db: &Db,
    account_id: i64,
    dedup_key: &str,
) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT reply FROM wx_messages WHERE account_id = $1 AND dedup_key = $2"
    )
    .bind(account_id)
    .bind(dedup_key)
    .fetch_optional(p)
    .await)
}

/// The job: compute the answer again and send it as a customer-service message.
pub async fn run(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let id = ctx.payload["late_reply"]
        .as_i64()
        .ok_or_else(|| JobError::Permanent("payload has no late_reply id".into()))?;
    let late = load(&ctx.db, id)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::Permanent(format!("late reply {id} does not exist")))?;
    if late.status != "pending" {
        return Ok(());
    }
    let now = || ctx.clock.now_ms();
    if let Some(reply) = logged_reply(&ctx.db, late.account_id, &late.dedup_key)
        .await
        .map_err(JobError::retry)?
        && reply != "success"
    {
        finish(&ctx.db, id, "skipped", "answered by passive reply", now())
            .await
            .map_err(JobError::retry)?;
        return Ok(());
    }
    let module = state
        .modules
        .by_name(&late.module)
        .ok_or_else(|| JobError::retry(format!("module {} is not running here", late.module)))?;
    let call = ModuleCall {
        db: ctx.db.clone(),
        merchant_id: late.merchant_id,
        account_id: late.account_id,
        openid: late.openid.clone(),
        xml: late.body.clone(),
    };
    let answer = tokio::time::timeout(LATE_ANSWER_TIMEOUT, module.answer(&call))
        .await
        .map_err(|_| JobError::retry(format!("module {} took over a minute", late.module)))?
        .map_err(|e| JobError::retry(format!("module {}: {e}", late.module)))?;
    let Some(message) = answer.as_ref().and_then(CustomMessage::from_reply) else {
        finish(&ctx.db, id, "skipped", "the module had no answer", now())
            .await
            .map_err(JobError::retry)?;
        return Ok(());
    };
    let account = crate::accounts::get(&ctx.db, late.merchant_id, late.account_id)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::Permanent("the account no longer exists".into()))?;
    let tokens = crate::accounts::tokens::cache_of(&state, &account);
    match custom::send(&tokens, &late.openid, &message, None).await {
        Ok(()) => finish(&ctx.db, id, "sent", "", now())
            .await
            .map_err(JobError::retry),
        Err(e) if e.errcode().is_some_and(custom::is_final_refusal) => {
            finish(&ctx.db, id, "refused", &e.to_string(), now())
                .await
                .map_err(JobError::retry)?;
            tracing::info!(late_reply = id, error = %e, "late answer refused by WeChat");
            Ok(())
        }
        Err(e) => Err(JobError::retry(e)),
    }
}
