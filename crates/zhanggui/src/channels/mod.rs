//! Channel QR codes (渠道二维码): parametric codes made at WeChat, each with a name, where it
//! is spread (poster, table card, online link …), a tag applied on scan, a welcome of its own
//! and scan statistics by day derived from the message log (jobs.rs).
//!
//! The console pages and the API call the functions here; the callback reads the welcomes
//! through the account directory (messages/directory.rs) and never waits on this module.

pub mod jobs;
pub mod model;
pub mod print;
pub mod routes;
pub mod store;

use std::collections::HashMap;

use chrono_tz::Tz;
use model::{
    ChannelEdit, ChannelInput, ChannelKind, ChannelScene, DayRange, DayStats, MAX_PERMANENT_CODES,
    Medium, Totals, ValidEdit,
};
pub use store::ChannelRow;

use crate::accounts::AccountRow;
use crate::accounts::model::WeChatFeature;
use crate::merchants::field_error;
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::AppError;
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;

impl ChannelRow {
    pub fn kind(&self) -> ChannelKind {
        ChannelKind::parse(&self.kind).unwrap_or(ChannelKind::Permanent)
    }

    pub fn medium(&self) -> Medium {
        Medium::parse(&self.medium).unwrap_or(Medium::Other)
    }

    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn archived(&self) -> bool {
        self.archived_at.is_some()
    }
}

/// A channel of this merchant on this account (404 otherwise).
pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<ChannelRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .filter(|c| c.account_id == account_id)
        .ok_or(AppError::NotFound)
}

/// A channel of this merchant, whatever its account.
pub async fn get_any(db: &Db, merchant_id: i64, id: i64) -> Result<ChannelRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A tag picked for a channel must be one of the account's.
async fn check_tag(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: Option<i64>,
) -> Result<(), AppError> {
    let Some(tag_id) = tag_id else {
        return Ok(());
    };
    let tags = store::tags(db, merchant_id, account_id).await?;
    if tags.iter().any(|(id, _)| *id == tag_id) {
        Ok(())
    } else {
        Err(field_error("tag_id", Msg::new("channel.bad_tag")))
    }
}

/// Creates a channel: checks WeChat's rules, asks WeChat for the code through the account's
/// shared token, then stores it. Nothing is stored when WeChat refuses.
pub async fn create(
    state: &AppState,
    merchant_id: i64,
    account: &AccountRow,
    input: &ChannelInput,
) -> Result<ChannelRow, AppError> {
    if account.merchant_id != merchant_id {
        return Err(AppError::NotFound);
    }
    let valid = model::validate_new(input).map_err(AppError::Validation)?;
    let db = &state.db;
    check_tag(db, merchant_id, account.id, valid.edit.tag_id).await?;
    if WeChatFeature::ParametricQr
        .refusal(account.kind(), account.verified)
        .is_some()
    {
        return Err(AppError::Conflict(Msg::new(
            "channel.needs_verified_service",
        )));
    }
    if valid.kind == ChannelKind::Permanent
        && store::permanent_count(db, merchant_id, account.id).await? >= MAX_PERMANENT_CODES
    {
        return Err(field_error(
            "kind",
            Msg::new("channel.permanent_limit").arg("max", MAX_PERMANENT_CODES),
        ));
    }
    let scene = match &valid.scene {
        Some(s) => {
            if store::scene_taken(db, merchant_id, account.id, &s.text()).await? {
                return Err(field_error("scene", Msg::new("channel.scene_taken")));
            }
            s.clone()
        }
        None => {
            let used = store::scenes(db, merchant_id, account.id).await?;
            let id = model::next_free_scene_id(used.iter().map(String::as_str))
                .ok_or_else(|| field_error("scene", Msg::new("channel.no_free_scene")))?;
            ChannelScene::Id(id)
        }
    };
    let tokens = crate::accounts::tokens::cache_of(state, account);
    let ticket = wechat::api::qrcode::create(&tokens, &valid.code(&scene))
        .await
        .map_err(|e| {
            tracing::info!(account_id = account.id, error = %e, "WeChat refused a channel QR code");
            explain_refusal(&e)
        })?;
    let now = state.clock.now_ms();
    let expires_at = match valid.kind {
        ChannelKind::Temporary => {
            let seconds = ticket
                .expire_seconds
                .or(valid.expire_seconds.map(i64::from))
                .unwrap_or(0);
            Some(now + seconds * 1000)
        }
        ChannelKind::Permanent => None,
    };
    let scene_text = scene.text();
    let new = store::NewChannel {
        merchant_id,
        account_id: account.id,
        name: &valid.edit.name,
        kind: valid.kind.as_str(),
        scene: &scene_text,
        medium: valid.edit.medium.as_str(),
        tag_id: valid.edit.tag_id,
        welcome_text: &valid.edit.welcome_text,
        poster_text: &valid.edit.poster_text,
        ticket: &ticket.ticket,
        qr_url: &ticket.url,
        expires_at,
    };
    let id = match store::insert(db, &new, now).await {
        Ok(id) => id,
        // Someone took the scene meanwhile (a permanent code of that scene is the same code
        // at WeChat, so nothing is lost there).
        Err(e) if is_unique_violation(&e) => {
            return Err(field_error("scene", Msg::new("channel.scene_taken")));
        }
        Err(e) => return Err(e.into()),
    };
    get(db, merchant_id, account.id, id).await
}

/// WeChat's refusal of `qrcode/create`, in words the merchant can act on.
pub fn explain_refusal(e: &wechat::api::ApiError) -> AppError {
    let Some(code) = e.errcode() else {
        return AppError::Conflict(Msg::new("channel.wechat_unreachable"));
    };
    let key = match code {
        40053 => return field_error("scene", Msg::new("channel.wxerr.40053").arg("code", code)),
        40097 => "channel.wxerr.40097",
        48001 => "channel.wxerr.48001",
        45009 => "channel.wxerr.45009",
        40001 | 40013 | 40125 | 40164 | 42001 => crate::accounts::explain_errcode(code),
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    };
    AppError::Conflict(Msg::new(key).arg("code", code))
}

/// Changes a channel's name, medium, tag, welcome and poster text (never its code).
pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &ChannelEdit,
    now: i64,
) -> Result<ChannelRow, AppError> {
    let before = get_any(db, merchant_id, id).await?;
    let v: ValidEdit = model::validate_edit_only(input).map_err(AppError::Validation)?;
    check_tag(db, merchant_id, before.account_id, v.tag_id).await?;
    let change = store::ChannelChange {
        name: &v.name,
        medium: v.medium.as_str(),
        tag_id: v.tag_id,
        welcome_text: &v.welcome_text,
        poster_text: &v.poster_text,
    };
    if !store::update(db, merchant_id, id, &change, now).await? {
        return Err(AppError::NotFound);
    }
    get_any(db, merchant_id, id).await
}

pub async fn archive(db: &Db, merchant_id: i64, id: i64, now: i64) -> Result<ChannelRow, AppError> {
    if !store::archive(db, merchant_id, id, now).await? {
        return Err(AppError::NotFound);
    }
    get_any(db, merchant_id, id).await
}

/// All-time totals of each scene of an account: scene → totals.
pub async fn totals(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<HashMap<String, Totals>, sqlx::Error> {
    let mut out: HashMap<String, Totals> = HashMap::new();
    for (scene, new_follows, rescans) in store::totals_by_scene(db, merchant_id, account_id).await?
    {
        let t = out.entry(scene).or_default();
        t.new_follows += new_follows;
        t.rescans += rescans;
        t.scans += new_follows + rescans;
    }
    for (scene, gone) in store::unfollows_by_scene(db, merchant_id, account_id).await? {
        out.entry(scene).or_default().unfollows += gone;
    }
    Ok(out)
}

/// A channel's numbers for every day of `range` (the merchant's days).
pub async fn days(
    db: &Db,
    channel: &ChannelRow,
    range: &DayRange,
    tz: Tz,
) -> Result<Vec<DayStats>, sqlx::Error> {
    let counted = store::days(
        db,
        channel.merchant_id,
        channel.account_id,
        &channel.scene,
        &range.from_text(),
        &range.to_text(),
    )
    .await?;
    let from_ms = model::day_start_ms(range.from, tz);
    let to_ms = model::day_start_ms(range.to + chrono::Duration::days(1), tz);
    let times = store::unfollow_times(
        db,
        channel.merchant_id,
        channel.account_id,
        &channel.scene,
        from_ms,
        to_ms,
    )
    .await?;
    let mut gone: HashMap<String, i64> = HashMap::new();
    for t in times {
        *gone.entry(model::day_of(t, tz)).or_default() += 1;
    }
    let gone: Vec<(String, i64)> = gone.into_iter().collect();
    Ok(model::fill_days(range, &counted, &gone))
}

/// The range asked for, in the merchant's days, as a validation error when malformed.
pub fn range_of(
    from: Option<&str>,
    to: Option<&str>,
    now: i64,
    tz: Tz,
) -> Result<DayRange, AppError> {
    DayRange::parse(from, to, model::date_of(now, tz)).map_err(AppError::Validation)
}
