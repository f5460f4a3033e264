//! Followers (粉丝): who has followed each account, when they last interacted, how they came
//! (QR channel) and where they last were — derived from the message log — plus what the
//! merchant and WeChat know of them (remark, tags, collected profile), and the filter that
//! selects them (lists, segments, bulk operations, export).
//!
//! Changes WeChat also keeps (the remark, the blacklist) go to WeChat first and are stored
//! here only once WeChat has accepted them, so the two never disagree because of us.

pub mod csv;
pub mod filter;
pub mod jobs;
pub mod model;
pub mod query;
pub mod routes;
pub mod store;
pub mod sync;

pub use filter::{Filter, FollowerRecord};
pub use model::Follower;

use wechat::api::ApiError;
use wechat::api::users;

use crate::accounts::AccountRow;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use model::{FollowerPatch, ProfileFields};

/// One of this merchant's accounts, or 404.
pub async fn account_of(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
) -> Result<AccountRow, AppError> {
    crate::accounts::get(&state.db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A follower of the account with everything we know, or 404.
pub async fn record_of(
    state: &AppState,
    account: &AccountRow,
    openid: &str,
) -> Result<FollowerRecord, AppError> {
    query::record(&state.db, account.merchant_id, account.id, openid)
        .await?
        .ok_or(AppError::NotFound)
}

fn profile_of(r: &FollowerRecord) -> ProfileFields {
    ProfileFields {
        name: r.profile.name.clone(),
        phone: r.profile.phone.clone(),
        gender: r
            .profile
            .gender
            .as_deref()
            .map(|g| filter::Gender::of(Some(g))),
        birthday: r.profile.birthday.clone(),
        city: r.profile.city.clone(),
    }
}

/// Applies a patch: every field is checked first; a new remark goes to WeChat
/// (`updateremark`) and is stored once WeChat took it; then the profile fields.
pub async fn update(
    state: &AppState,
    account: &AccountRow,
    openid: &str,
    patch: &FollowerPatch,
) -> Result<FollowerRecord, AppError> {
    let record = record_of(state, account, openid).await?;
    let tz = crate::merchants::timezone(&state.db, account.merchant_id).await?;
    let now = state.clock.now_ms();
    let today = crate::platform::clock::utc(now)
        .map(|t| t.with_timezone(&tz).date_naive())
        .ok_or_else(|| AppError::internal("clock out of range"))?;
    let profile = patch
        .apply(&profile_of(&record), today)
        .map_err(AppError::Validation)?;
    let remark = patch.remark().map_err(|m| {
        let mut f = FieldErrors::default();
        f.add("remark", m);
        AppError::Validation(f)
    })?;
    if let Some(remark) = remark.filter(|r| r.as_str() != record.profile.remark) {
        let tokens = crate::accounts::tokens::cache_of(state, account);
        users::update_remark(&tokens, openid, remark.as_str())
            .await
            .map_err(|e| wechat_error(account, "updateremark", &e))?;
        store::set_remark(
            &state.db,
            account.merchant_id,
            account.id,
            openid,
            remark.as_str(),
        )
        .await?;
    }
    if patch.touches_profile() {
        store::set_profile(
            &state.db,
            account.merchant_id,
            account.id,
            openid,
            &profile,
            now,
        )
        .await?;
    }
    record_of(state, account, openid).await
}

/// Puts a follower on the account's blacklist or takes them off: WeChat first
/// (`batchblacklist` / `batchunblacklist`), then ours.
pub async fn set_blacklisted(
    state: &AppState,
    account: &AccountRow,
    openid: &str,
    blacklisted: bool,
) -> Result<FollowerRecord, AppError> {
    let record = record_of(state, account, openid).await?;
    if record.profile.blacklisted != blacklisted {
        let tokens = crate::accounts::tokens::cache_of(state, account);
        let openids = [openid.to_string()];
        let result = if blacklisted {
            users::blacklist(&tokens, &openids).await
        } else {
            users::unblacklist(&tokens, &openids).await
        };
        result.map_err(|e| wechat_error(account, "blacklist", &e))?;
        store::set_blacklisted(
            &state.db,
            account.merchant_id,
            account.id,
            openid,
            blacklisted,
        )
        .await?;
    }
    record_of(state, account, openid).await
}

/// WeChat's refusal or failure in the user's words; the cause goes to the log.
fn wechat_error(account: &AccountRow, call: &str, e: &ApiError) -> AppError {
    tracing::info!(account_id = account.id, call, error = %e, "WeChat refused a follower change");
    match e.errcode() {
        Some(code) => AppError::Upstream(Msg::new(explain_errcode(code)).arg("code", code)),
        None => AppError::Upstream(Msg::new("follower.wx_unreachable")),
    }
}

/// The message key explaining a WeChat errcode of the follower calls.
pub fn explain_errcode(code: i64) -> &'static str {
    match code {
        43004 => "follower.wxerr.43004",
        40003 => "follower.wxerr.40003",
        40092 => "follower.wxerr.40092",
        48001 => "follower.wxerr.48001",
        45009 => "follower.wxerr.45009",
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    }
}
