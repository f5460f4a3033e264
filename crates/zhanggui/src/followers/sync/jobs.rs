//! The sync's job: one bounded slice per run (a `user/get` page, or up to
//! [`PROFILES_PER_RUN`] profiles), progress recorded as it goes, then the next job of the
//! chain is enqueued with the run's next step in one transaction. A killed instance's job is
//! taken over when its lease runs out and continues from what was recorded: pages are
//! re-queued harmlessly, profiles re-merged idempotently.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wechat::api::ApiError;
use wechat::api::users::{self, UserInfo};
use wechat::token::TokenCache;

use super::model::{self, PROFILE_BATCH, PROFILES_PER_RUN};
use super::store::{self, SyncRow};
use crate::platform::clock::Millis;
use crate::platform::db::Tx;
use crate::platform::jobs::{self, JobContext, JobError, NewJob};
use crate::platform::state::AppState;

pub const JOB_KIND: &str = "followers.sync";

#[derive(Serialize, Deserialize)]
struct Payload {
    sync: i64,
    step: i64,
}

pub async fn enqueue(
    tx: &mut Tx,
    now: Millis,
    merchant_id: i64,
    sync: i64,
    step: i64,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(JOB_KIND, json!({ "sync": sync, "step": step })).merchant(merchant_id);
    jobs::enqueue(tx, now, job).await
}

/// Why a slice stopped.
enum Stop {
    /// Retrying cannot help: the run fails with this message key.
    Final(String),
    Retry(String),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Stop {
        Stop::Retry(format!("database: {e}"))
    }
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Stop {
        match e.errcode() {
            Some(code) if is_final(code) => {
                Stop::Final(crate::tags::model::explain_refusal(code).key.to_string())
            }
            _ => Stop::Retry(e.to_string()),
        }
    }
}

/// WeChat's answers that retrying will not change: no rights, bad credentials.
fn is_final(code: i64) -> bool {
    matches!(code, 48001 | 40013 | 40125 | 40164 | 41001 | 50001 | 50002)
}

pub async fn run(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let p: Payload = ctx.payload_as()?;
    let Some(run) = store::get(&ctx.db, p.sync).await? else {
        return Ok(());
    };
    if run.status != "running" || run.step != p.step {
        return Ok(()); // a stale copy of the chain's job
    }
    match slice(&state, &ctx, &run).await {
        Ok(()) => Ok(()),
        Err(Stop::Final(reason)) => {
            tracing::warn!(sync = run.id, %reason, "follower sync failed");
            store::finish(&ctx.db, run.id, "failed", &reason, ctx.clock.now_ms()).await?;
            Ok(())
        }
        Err(Stop::Retry(e)) => {
            if ctx.is_last_attempt() {
                store::finish(
                    &ctx.db,
                    run.id,
                    "failed",
                    "sync.failed_retries",
                    ctx.clock.now_ms(),
                )
                .await?;
            }
            Err(JobError::Retry(e))
        }
    }
}

async fn slice(state: &AppState, ctx: &JobContext, run: &SyncRow) -> Result<(), Stop> {
    let (m, a) = (run.merchant_id, run.account_id);
    let account = crate::accounts::get(&ctx.db, m, a)
        .await?
        .ok_or_else(|| Stop::Final("sync.account_gone".into()))?;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    if run.step == 0 {
        // Tags first, so that the profiles' tag ids are known.
        crate::tags::pull_tags(&ctx.db, m, a, &tokens, ctx.clock.now_ms())
            .await
            .map_err(|e| match e {
                crate::tags::Failure::WeChat(e) => Stop::from(e),
                crate::tags::Failure::Db(e) => Stop::from(e),
            })?;
    }
    let queued = store::queued(&ctx.db, run.id, PROFILES_PER_RUN).await?;
    if !queued.is_empty() {
        for batch in queued.chunks(PROFILE_BATCH) {
            profile_batch(ctx, run, &tokens, batch).await?;
        }
    } else if !run.listed_all {
        list_page(ctx, run, &tokens).await?;
    } else {
        let now = ctx.clock.now_ms();
        let marked = store::mark_unfollowed(
            &ctx.db,
            m,
            a,
            run.started_at,
            model::unfollow_mark_at(run.started_at),
        )
        .await?;
        store::finish(&ctx.db, run.id, "done", "", now).await?;
        tracing::info!(
            sync = run.id,
            account = a,
            unfollowed = marked,
            "follower sync done"
        );
        return Ok(());
    }
    let now = ctx.clock.now_ms();
    let mut tx = ctx.db.begin().await?;
    if store::next_step(&mut tx, run.id, run.step, now).await? {
        enqueue(&mut tx, now, m, run.id, run.step + 1).await?;
    }
    tx.commit().await?;
    state.jobs.wake();
    Ok(())
}

/// Reads one `user/get` page and queues its openids.
async fn list_page(ctx: &JobContext, run: &SyncRow, tokens: &TokenCache) -> Result<(), Stop> {
    let page = users::get_followers(tokens, &run.next_openid).await?;
    let openids = page.openids();
    store::queue(&ctx.db, run.id, openids).await?;
    // The page after the last is empty; a cursor that does not move ends it too.
    let more =
        !openids.is_empty() && !page.next_openid.is_empty() && page.next_openid != run.next_openid;
    let next = if more {
        page.next_openid.as_str()
    } else {
        run.next_openid.as_str()
    };
    store::record_page(
        &ctx.db,
        run.id,
        run.step,
        next,
        page.total as i64,
        openids.len() as i64,
        !more,
        ctx.clock.now_ms(),
    )
    .await?;
    Ok(())
}

/// Profiles of up to 100 followers: `batchget`, or one by one when WeChat refuses the batch
/// for an openid it does not know (40003 fails the whole call).
async fn profiles(tokens: &TokenCache, batch: &[String]) -> Result<Vec<UserInfo>, ApiError> {
    match users::batch_info(tokens, batch).await {
        Ok(infos) => Ok(infos),
        Err(e) if e.errcode() == Some(40003) => {
            let mut infos = Vec::with_capacity(batch.len());
            for openid in batch {
                match users::info(tokens, openid).await {
                    Ok(info) => infos.push(info),
                    Err(e) if e.errcode() == Some(40003) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(infos)
        }
        Err(e) => Err(e),
    }
}

async fn profile_batch(
    ctx: &JobContext,
    run: &SyncRow,
    tokens: &TokenCache,
    batch: &[String],
) -> Result<(), Stop> {
    let (m, a) = (run.merchant_id, run.account_id);
    let infos = profiles(tokens, batch).await?;
    let following: Vec<&UserInfo> = infos.iter().filter(|i| i.subscribe).collect();
    let merged: Vec<_> = following
        .iter()
        .filter_map(|i| model::follower_of(m, a, i))
        .collect();
    crate::followers::store::merge(&ctx.db, &merged).await?;
    let mut map = crate::tags::store::id_map(&ctx.db, m, a).await?;
    let unknown = following
        .iter()
        .flat_map(|i| i.tagid_list.iter())
        .any(|wx| !map.iter().any(|(_, w)| w == wx));
    if unknown {
        // Tags made at WeChat since the run began.
        crate::tags::pull_tags(&ctx.db, m, a, tokens, ctx.clock.now_ms())
            .await
            .map_err(|e| match e {
                crate::tags::Failure::WeChat(e) => Stop::from(e),
                crate::tags::Failure::Db(e) => Stop::from(e),
            })?;
        map = crate::tags::store::id_map(&ctx.db, m, a).await?;
    }
    let tags: Vec<(String, Vec<i64>)> = following
        .iter()
        .map(|i| {
            let ours = i
                .tagid_list
                .iter()
                .filter_map(|wx| map.iter().find(|(_, w)| w == wx).map(|(id, _)| *id))
                .collect();
            (i.openid.clone(), ours)
        })
        .collect();
    store::record_profiles(
        &ctx.db,
        m,
        a,
        run.id,
        batch,
        &following,
        &tags,
        ctx.clock.now_ms(),
    )
    .await?;
    Ok(())
}
