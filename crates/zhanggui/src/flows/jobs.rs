//! Applying a flow answer's effects: the tag (ours, then WeChat's through the tags
//! capability's push) and the profile field. A job, so that the callback's turn is one short
//! transaction and the follower's row (made by the projector) has time to exist.

use super::Speaker;
use super::model::{Effects, Field};
use crate::channels::jobs::MAX_TAGS_PER_FOLLOWER;
use crate::channels::store::{TagOnScan, Tagging, tag_one};
use crate::platform::jobs::{JobContext, JobError, NewJob};
use crate::platform::state::AppState;

pub const APPLY_KIND: &str = "flows.apply_answer";

pub fn apply_job(who: &Speaker<'_>, e: &Effects) -> NewJob {
    NewJob::new(
        APPLY_KIND,
        serde_json::json!({
            "merchant_id": who.merchant_id,
            "account_id": who.account_id,
            "openid": who.openid,
            "tag_id": e.tag_id,
            "field": e.field.as_ref().map(|(f, _)| f.as_str()),
            "value": e.field.as_ref().map(|(_, v)| v.as_str()),
        }),
    )
    .merchant(who.merchant_id)
}

pub async fn apply_answer(state: AppState, ctx: JobContext) -> Result<(), JobError> {
    let p = &ctx.payload;
    let id = |name: &str| {
        p[name]
            .as_i64()
            .ok_or_else(|| JobError::Permanent(format!("payload has no {name}")))
    };
    let (merchant_id, account_id) = (id("merchant_id")?, id("account_id")?);
    let openid = p["openid"]
        .as_str()
        .ok_or_else(|| JobError::Permanent("payload has no openid".into()))?;
    let now = ctx.clock.now_ms();
    if let Some(tag_id) = p["tag_id"].as_i64() {
        let t = TagOnScan {
            merchant_id,
            account_id,
            openid: openid.to_string(),
            tag_id,
        };
        if tag_one(&ctx.db, &t, MAX_TAGS_PER_FOLLOWER, now)
            .await
            .map_err(JobError::retry)?
            == Tagging::Full
        {
            tracing::info!(
                account_id,
                tag_id,
                "flow answer: the follower has WeChat's most tags; tag skipped"
            );
        }
        state.jobs.wake();
    }
    if let (Some(field), Some(value)) = (
        p["field"].as_str().and_then(Field::parse),
        p["value"].as_str(),
    ) && !super::store::set_profile_field(
        &ctx.db,
        merchant_id,
        account_id,
        openid,
        field,
        value,
        now,
    )
    .await
    .map_err(JobError::retry)?
    {
        return Err(JobError::retry("the follower is not projected yet"));
    }
    Ok(())
}
