//! Tags (标签): an account's tags mirrored with WeChat's, and the followers carrying them.
//!
//! WeChat is the authority: creating, renaming, deleting and (un)tagging call WeChat first
//! with the account's shared token, and change our rows in the same request only when
//! WeChat accepted. "Pull" (tags/get) brings in what changed on WeChat's side (tags made or
//! renamed in WeChat's own back office). Large sets of followers are tagged by a bulk
//! operation in the background (jobs.rs), which also pushes a follower's tags to WeChat
//! after a local change (`tags.push_follower`).

pub mod jobs;
pub mod model;
pub mod routes;
pub mod store;

use std::sync::Arc;

use wechat::api::ApiError;
use wechat::api::tags as wx;
use wechat::token::TokenCache;

use crate::accounts::AccountRow;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx, is_unique_violation};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use model::{BulkAction, TagName};
pub use store::TagRow;

/// Why a tag operation could not be done, before it is put into an HTTP answer or a job's
/// outcome.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    WeChat(#[from] ApiError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<Failure> for AppError {
    fn from(f: Failure) -> AppError {
        match f {
            Failure::WeChat(e) => wechat_error(&e),
            Failure::Db(e) => AppError::from(e),
        }
    }
}

/// A WeChat failure as the merchant should read it: refusals of a name belong to the name
/// field, other refusals are conflicts, anything else means WeChat is not answering well.
pub fn wechat_error(e: &ApiError) -> AppError {
    tracing::info!(error = %e, "WeChat refused a tag call");
    match e.errcode() {
        Some(code @ (45157 | 45158)) => name_error(model::explain_refusal(code)),
        Some(code) if model::is_final_refusal(code) => {
            AppError::Conflict(model::explain_refusal(code))
        }
        Some(code) => AppError::Upstream(model::explain_refusal(code)),
        None => AppError::Upstream(Msg::new("tags.wx_unreachable")),
    }
}

fn name_error(msg: Msg) -> AppError {
    let mut f = FieldErrors::default();
    f.add("name", msg);
    AppError::Validation(f)
}

/// The merchant's account, or 404.
pub async fn account(db: &Db, merchant_id: i64, account_id: i64) -> Result<AccountRow, AppError> {
    crate::accounts::get(db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The account's tag, or 404.
pub async fn tag(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
) -> Result<TagRow, AppError> {
    store::get(db, merchant_id, account_id, tag_id)
        .await?
        .ok_or(AppError::NotFound)
}

fn tokens(state: &AppState, account: &AccountRow) -> Arc<TokenCache> {
    crate::accounts::tokens::cache_of(state, account)
}

/// Creates a tag at WeChat, then here.
pub async fn create(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    raw_name: &str,
) -> Result<TagRow, AppError> {
    let name = TagName::parse(raw_name).map_err(name_error)?;
    let account = account(&state.db, merchant_id, account_id).await?;
    let existing = store::list(&state.db, merchant_id, account_id).await?;
    if existing.iter().any(|t| t.name == name.as_str()) {
        return Err(name_error(Msg::new("tags.name_taken")));
    }
    let own = existing
        .iter()
        .filter(|t| !model::is_system_tag(t.wx_tag_id))
        .count();
    if own >= model::MAX_TAGS_PER_ACCOUNT {
        return Err(AppError::Conflict(
            Msg::new("tags.too_many").arg("max", model::MAX_TAGS_PER_ACCOUNT),
        ));
    }
    let made = wx::create(&tokens(state, &account), name.as_str())
        .await
        .map_err(|e| wechat_error(&e))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = store::upsert(&mut tx, merchant_id, account_id, made.id, &made.name, now).await?;
    tx.commit().await?;
    tag(&state.db, merchant_id, account_id, id).await
}

/// Renames a tag at WeChat, then here.
pub async fn rename(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    raw_name: &str,
) -> Result<TagRow, AppError> {
    let name = TagName::parse(raw_name).map_err(name_error)?;
    let account = account(&state.db, merchant_id, account_id).await?;
    let current = tag(&state.db, merchant_id, account_id, tag_id).await?;
    if model::is_system_tag(current.wx_tag_id) {
        return Err(AppError::Conflict(Msg::new("tags.system_tag")));
    }
    if current.name == name.as_str() {
        return Ok(current);
    }
    let others = store::list(&state.db, merchant_id, account_id).await?;
    if others
        .iter()
        .any(|t| t.id != tag_id && t.name == name.as_str())
    {
        return Err(name_error(Msg::new("tags.name_taken")));
    }
    wx::update(&tokens(state, &account), current.wx_tag_id, name.as_str())
        .await
        .map_err(|e| wechat_error(&e))?;
    match store::rename(
        &state.db,
        merchant_id,
        account_id,
        tag_id,
        name.as_str(),
        state.clock.now_ms(),
    )
    .await
    {
        Err(e) if is_unique_violation(&e) => return Err(name_error(Msg::new("tags.name_taken"))),
        other => other?,
    };
    tag(&state.db, merchant_id, account_id, tag_id).await
}

/// Deletes a tag at WeChat (which takes it off every follower), then here.
pub async fn delete(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
) -> Result<(), AppError> {
    let account = account(&state.db, merchant_id, account_id).await?;
    let current = tag(&state.db, merchant_id, account_id, tag_id).await?;
    if model::is_system_tag(current.wx_tag_id) {
        return Err(AppError::Conflict(Msg::new("tags.system_tag")));
    }
    if current.members > model::MAX_DELETABLE_MEMBERS {
        return Err(AppError::Conflict(model::explain_refusal(45057)));
    }
    match wx::delete(&tokens(state, &account), current.wx_tag_id).await {
        Ok(()) => {}
        // Already gone at WeChat (deleted in its back office): ours goes too.
        Err(e) if e.errcode() == Some(45159) => {}
        Err(e) => return Err(wechat_error(&e)),
    }
    store::delete(&state.db, merchant_id, account_id, tag_id).await?;
    Ok(())
}

/// What a pull changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PullReport {
    /// Tags WeChat has, now ours too.
    pub tags: u64,
    /// Ours that WeChat no longer has, removed.
    pub removed: u64,
}

/// Makes our tags of the account equal WeChat's (tags/get): added or renamed by WeChat id,
/// and ours that WeChat no longer has removed, in one transaction.
pub async fn pull_tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tokens: &TokenCache,
    now: Millis,
) -> Result<PullReport, Failure> {
    let theirs = wx::list(tokens).await?;
    let mut tx = db.begin().await?;
    let report = apply_pull(&mut tx, merchant_id, account_id, &theirs, now).await?;
    tx.commit().await?;
    Ok(report)
}

async fn apply_pull(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    theirs: &[wx::TagCount],
    now: Millis,
) -> Result<PullReport, sqlx::Error> {
    let keep: Vec<i64> = theirs.iter().map(|t| t.id).collect();
    let removed = store::delete_missing(tx, merchant_id, account_id, &keep).await?;
    for t in theirs {
        store::upsert(tx, merchant_id, account_id, t.id, &t.name, now).await?;
    }
    Ok(PullReport {
        tags: theirs.len() as u64,
        removed,
    })
}

/// The pull, for a request.
pub async fn pull(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
) -> Result<PullReport, AppError> {
    let account = account(&state.db, merchant_id, account_id).await?;
    Ok(pull_tags(
        &state.db,
        merchant_id,
        account_id,
        &tokens(state, &account),
        state.clock.now_ms(),
    )
    .await?)
}

/// Makes WeChat's tags of one follower equal `wanted` (WeChat ids) as far as our tags go:
/// tags WeChat has that we do not know are left alone. Removals go first, so that a follower
/// at the 20-tag limit can swap tags.
pub async fn push_to_wechat(
    tokens: &TokenCache,
    openid: &str,
    wanted: &[i64],
    known: &[i64],
) -> Result<(), ApiError> {
    let current = wx::tags_of(tokens, openid).await?;
    let (add, remove) = model::difference(&current, wanted);
    let one = [openid.to_string()];
    for t in remove.iter().filter(|t| known.contains(t)) {
        wx::untag_users(tokens, *t, &one).await?;
    }
    for t in add {
        wx::tag_users(tokens, t, &one).await?;
    }
    Ok(())
}

/// Sets a follower's tags (our ids): WeChat first, then ours.
pub async fn set_follower_tags(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    tag_ids: &[i64],
) -> Result<Vec<TagRow>, AppError> {
    let account = account(&state.db, merchant_id, account_id).await?;
    let mut wanted_ids: Vec<i64> = Vec::new();
    for id in tag_ids {
        if !wanted_ids.contains(id) {
            wanted_ids.push(*id);
        }
    }
    if wanted_ids.len() > model::MAX_TAGS_PER_FOLLOWER {
        return Err(AppError::Conflict(
            Msg::new("tags.follower_full").arg("max", model::MAX_TAGS_PER_FOLLOWER),
        ));
    }
    let map = store::id_map(&state.db, merchant_id, account_id).await?;
    let mut wanted_wx = Vec::with_capacity(wanted_ids.len());
    for id in &wanted_ids {
        let wx_id = map
            .iter()
            .find(|(ours, _)| ours == id)
            .map(|(_, wx)| *wx)
            .ok_or_else(|| {
                let mut f = FieldErrors::default();
                f.add("tag_ids", Msg::new("tags.unknown_tag").arg("id", id));
                AppError::Validation(f)
            })?;
        wanted_wx.push(wx_id);
    }
    let known: Vec<i64> = map.iter().map(|(_, wx)| *wx).collect();
    push_to_wechat(&tokens(state, &account), openid, &wanted_wx, &known)
        .await
        .map_err(|e| wechat_error(&e))?;
    let mut tx = state.db.begin().await?;
    store::replace_tags(
        &mut tx,
        merchant_id,
        account_id,
        &[(openid.to_string(), wanted_ids)],
        state.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    let carried = store::tags_of(&state.db, merchant_id, account_id, openid).await?;
    let all = store::list(&state.db, merchant_id, account_id).await?;
    Ok(all
        .into_iter()
        .filter(|t| carried.iter().any(|(id, _)| *id == t.id))
        .collect())
}

/// Checks a request's list of openids: 1 to [`model::MAX_MEMBERS_PER_REQUEST`], no blanks.
fn checked_openids(openids: &[String]) -> Result<Vec<String>, AppError> {
    let mut out: Vec<String> = Vec::with_capacity(openids.len());
    for o in openids {
        let o = o.trim();
        if o.is_empty() || o.len() > 64 {
            let mut f = FieldErrors::default();
            f.add("openids", Msg::new("tags.bad_openid"));
            return Err(AppError::Validation(f));
        }
        if !out.iter().any(|x| x == o) {
            out.push(o.to_string());
        }
    }
    if out.is_empty() || out.len() > model::MAX_MEMBERS_PER_REQUEST {
        let mut f = FieldErrors::default();
        f.add(
            "openids",
            Msg::new("tags.openids_count").arg("max", model::MAX_MEMBERS_PER_REQUEST),
        );
        return Err(AppError::Validation(f));
    }
    Ok(out)
}

/// Tags followers (a few hundred at most): refused as a whole, before WeChat is asked, when
/// one of them carries 20 tags already; then WeChat 50 at a time, ours after each batch.
pub async fn add_members(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    openids: &[String],
) -> Result<(), AppError> {
    let openids = checked_openids(openids)?;
    let account = account(&state.db, merchant_id, account_id).await?;
    let tag = tag(&state.db, merchant_id, account_id, tag_id).await?;
    let known = store::tagging_state(&state.db, merchant_id, account_id, tag_id, &openids).await?;
    if let Some(full) = known
        .iter()
        .find(|s| s.has_tag == 0 && s.tags >= model::MAX_TAGS_PER_FOLLOWER as i64)
    {
        return Err(AppError::Conflict(
            Msg::new("tags.member_full")
                .arg("openid", &full.openid)
                .arg("max", model::MAX_TAGS_PER_FOLLOWER),
        ));
    }
    let tokens = tokens(state, &account);
    for batch in openids.chunks(model::TAGGING_BATCH) {
        wx::tag_users(&tokens, tag.wx_tag_id, batch)
            .await
            .map_err(|e| wechat_error(&e))?;
        store::add_members(
            &state.db,
            merchant_id,
            account_id,
            tag_id,
            batch,
            state.clock.now_ms(),
        )
        .await?;
    }
    Ok(())
}

/// Untags followers: WeChat 50 at a time, ours after each batch.
pub async fn remove_members(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    openids: &[String],
) -> Result<(), AppError> {
    let openids = checked_openids(openids)?;
    let account = account(&state.db, merchant_id, account_id).await?;
    let tag = tag(&state.db, merchant_id, account_id, tag_id).await?;
    let tokens = tokens(state, &account);
    for batch in openids.chunks(model::TAGGING_BATCH) {
        wx::untag_users(&tokens, tag.wx_tag_id, batch)
            .await
            .map_err(|e| wechat_error(&e))?;
        store::remove_members(&state.db, merchant_id, account_id, tag_id, batch).await?;
    }
    Ok(())
}

/// Starts tagging or untagging every follower `filter` matches, in the background; returns
/// the operation's id.
pub async fn start_bulk(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    action: BulkAction,
    filter: &jobs::AudienceFilter,
) -> Result<i64, AppError> {
    account(&state.db, merchant_id, account_id).await?;
    let tag = tag(&state.db, merchant_id, account_id, tag_id).await?;
    let now = state.clock.now_ms();
    let total = jobs::audience_count(&state.db, merchant_id, account_id, filter, now).await?;
    // Stored as parsed, so the jobs read back exactly the filter that was counted.
    let filter_json =
        serde_json::to_string(&jobs::parse_filter(filter)?).map_err(AppError::internal)?;
    let mut tx = state.db.begin().await?;
    let id = store::insert_operation(
        &mut tx,
        merchant_id,
        account_id,
        tag.id,
        action.as_str(),
        &filter_json,
        total,
        now,
    )
    .await?;
    jobs::enqueue_bulk(&mut tx, now, merchant_id, id, 0).await?;
    tx.commit().await?;
    state.jobs.wake();
    Ok(id)
}

/// Enqueues `tags.push_follower` in the caller's transaction: after our tags of a follower
/// changed, WeChat's follow (channel QR codes applying a tag on scan use this).
pub async fn enqueue_push_follower(
    tx: &mut Tx,
    now: Millis,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<i64, sqlx::Error> {
    jobs::enqueue_push(tx, now, merchant_id, account_id, openid).await
}
