//! The sync of an account's followers from WeChat (同步粉丝): every openid of `user/get`,
//! every profile of `user/info/batchget`, merged into the followers the message log built,
//! in a resumable chain of background jobs with visible progress (jobs.rs). Followers keep
//! arriving through the callback meanwhile: a profile is joined as a follow at its
//! `subscribe_time` with the projector's own merges, so either order gives the same row, and
//! those we did not find are marked unfollowed at the end, never deleted.

pub mod jobs;
pub mod model;
pub mod routes;
pub mod store;

use crate::platform::error::AppError;
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
pub use store::SyncRow;

/// Starts a run for the account; 409 while one is running.
pub async fn start(state: &AppState, merchant_id: i64, account_id: i64) -> Result<i64, AppError> {
    crate::accounts::get(&state.db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let Some(id) = store::insert_run(&mut tx, merchant_id, account_id, now).await? else {
        tx.rollback().await?;
        return Err(AppError::Conflict(Msg::new("sync.already_running")));
    };
    jobs::enqueue(&mut tx, now, merchant_id, id, 0).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(id)
}
