//! Merchants (tenants) and their staff. The platform admin creates merchants; a merchant's
//! owner manages its staff.

pub mod model;
pub mod routes;
pub mod store;

use crate::platform::auth::model::{Role, hash_password};
use crate::platform::auth::store as auth_store;
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::web::Choice;

pub use store::MerchantRow;

pub async fn exists(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    Ok(store::get(db, id).await?.is_some())
}

pub async fn first_id(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    store::first_id(db).await
}

pub async fn get(db: &Db, id: i64) -> Result<Option<MerchantRow>, sqlx::Error> {
    store::get(db, id).await
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<MerchantRow>, sqlx::Error> {
    store::by_name(db, name).await
}

/// Every merchant, for the platform admin's switcher.
pub async fn choices(db: &Db) -> Result<Vec<Choice>, sqlx::Error> {
    Ok(store::names(db)
        .await?
        .into_iter()
        .map(|(id, name)| Choice { id, name })
        .collect())
}

/// The merchant's time zone, for days, quotas and display.
pub async fn timezone(db: &Db, id: i64) -> Result<chrono_tz::Tz, sqlx::Error> {
    let tz = store::get(db, id).await?.map(|m| m.timezone);
    Ok(tz
        .as_deref()
        .and_then(crate::platform::clock::parse_timezone)
        .unwrap_or(chrono_tz::Asia::Shanghai))
}

/// Creates a merchant; a taken name is a field error, not a failure.
pub async fn create(
    db: &Db,
    input: &model::MerchantInput,
    now: i64,
) -> Result<MerchantRow, AppError> {
    let valid = model::validate_merchant(input).map_err(AppError::Validation)?;
    let mut tx = db.begin().await?;
    let id = match store::insert(&mut tx, &valid.name, &valid.timezone, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(field_error("name", Msg::new("merchant.name_taken")));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(MerchantRow {
        id,
        name: valid.name,
        timezone: valid.timezone,
        created_at: now,
    })
}

pub fn field_error(field: &str, msg: Msg) -> AppError {
    let mut f = FieldErrors::default();
    f.add(field, msg);
    AppError::Validation(f)
}

/// Adds a new user to a merchant with a role. A username in use anywhere is refused.
pub async fn add_staff(
    db: &Db,
    merchant_id: i64,
    input: &model::StaffInput,
    granter: Role,
    now: i64,
) -> Result<i64, AppError> {
    let valid = model::validate_staff(input, granter).map_err(AppError::Validation)?;
    let hash = hash_password(&valid.password).map_err(AppError::internal)?;
    let mut tx = db.begin().await?;
    let new = auth_store::NewUser {
        username: &valid.username,
        display_name: &valid.display_name,
        password_hash: &hash,
        is_platform_admin: false,
    };
    let user_id = match auth_store::insert_user(&mut tx, &new, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(field_error("username", Msg::new("staff.username_taken")));
        }
        Err(e) => return Err(e.into()),
    };
    auth_store::upsert_membership(&mut tx, merchant_id, user_id, valid.role, now).await?;
    tx.commit().await?;
    Ok(user_id)
}
