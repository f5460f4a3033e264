//! Segments (人群): saved follower filters of an account. The follower list applies them,
//! the CSV export takes them, and later broadcasts and campaigns target them
//! ([`filter_of`]).

pub mod model;
pub mod routes;
pub mod store;

use model::SegmentInput;
pub use store::SegmentRow;

use crate::followers::Filter;
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;

/// A stored segment with its filter read back.
#[derive(Clone, Debug)]
pub struct Segment {
    pub row: SegmentRow,
    pub filter: Filter,
}

impl Segment {
    fn of(row: SegmentRow) -> Segment {
        // A filter that no longer parses (written by a future version, edited by hand)
        // selects nobody rather than everybody.
        let filter = serde_json::from_str(&row.filter).unwrap_or_else(|e| {
            tracing::warn!(segment = row.id, error = %e, "stored segment filter unreadable");
            nobody()
        });
        Segment { row, filter }
    }
}

/// A filter no follower matches.
fn nobody() -> Filter {
    Filter {
        combine: crate::followers::filter::Combine::All,
        conditions: vec![
            crate::followers::filter::Condition::Subscribed { value: true },
            crate::followers::filter::Condition::Subscribed { value: false },
        ],
    }
}

/// The filter of a saved segment, for broadcasts, campaigns and exports; `None` when the
/// merchant's account has no such segment.
pub async fn filter_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    segment_id: i64,
) -> Result<Option<Filter>, sqlx::Error> {
    Ok(get(db, merchant_id, account_id, segment_id)
        .await?
        .map(|s| s.filter))
}

pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<Option<Segment>, sqlx::Error> {
    Ok(store::get(db, merchant_id, account_id, id)
        .await?
        .map(Segment::of))
}

pub async fn list(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<Segment>, sqlx::Error> {
    Ok(store::list(db, merchant_id, account_id, after, limit)
        .await?
        .into_iter()
        .map(Segment::of)
        .collect())
}

fn name_taken() -> AppError {
    let mut f = FieldErrors::default();
    f.add("name", Msg::new("segment.name_taken"));
    AppError::Validation(f)
}

fn filter_json(filter: &Filter) -> Result<String, AppError> {
    serde_json::to_string(filter).map_err(AppError::internal)
}

/// The account must be the merchant's: another merchant's account is not found.
async fn require_account(db: &Db, merchant_id: i64, account_id: i64) -> Result<(), AppError> {
    crate::accounts::get(db, merchant_id, account_id)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

pub async fn create(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &SegmentInput,
    now: i64,
) -> Result<Segment, AppError> {
    require_account(db, merchant_id, account_id).await?;
    let valid = model::validate(input).map_err(AppError::Validation)?;
    let json = filter_json(&valid.filter)?;
    match store::insert(db, merchant_id, account_id, &valid.name, &json, now).await {
        Ok(row) => Ok(Segment::of(row)),
        Err(e) if is_unique_violation(&e) => Err(name_taken()),
        Err(e) => Err(e.into()),
    }
}

/// Renames a segment and/or changes its filter.
pub async fn update(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
    input: &SegmentInput,
    now: i64,
) -> Result<Segment, AppError> {
    store::get(db, merchant_id, account_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let valid = model::validate(input).map_err(AppError::Validation)?;
    let json = filter_json(&valid.filter)?;
    match store::update(db, merchant_id, account_id, id, &valid.name, &json, now).await {
        Ok(Some(row)) => Ok(Segment::of(row)),
        Ok(None) => Err(AppError::NotFound),
        Err(e) if is_unique_violation(&e) => Err(name_taken()),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(db: &Db, merchant_id: i64, account_id: i64, id: i64) -> Result<(), AppError> {
    if store::delete(db, merchant_id, account_id, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
