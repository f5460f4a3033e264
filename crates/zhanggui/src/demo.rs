//! The demo merchant and its data, so a new install can be tried at once. Idempotent: running
//! it again adds only what is missing and never resets what a user changed.

use crate::accounts::model::AccountInput;
use crate::merchants::model::{MerchantInput, StaffInput};
use crate::platform::auth::model::{Role, hash_password, verify_password};
use crate::platform::auth::store as auth_store;
use crate::platform::config::Mode;
use crate::platform::db::Db;
use crate::platform::error::AppError;

pub const DEMO_MERCHANT: &str = "掌柜咖啡（演示）";
pub const DEMO_OWNER: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo1234";
pub const DEMO_ADMIN: &str = "admin";
pub const DEMO_ADMIN_PASSWORD: &str = "admin1234";

/// The sign-ins that still work with their demo passwords, to print at start-up.
pub async fn working_demo_logins(
    db: &Db,
) -> Result<Vec<(&'static str, &'static str, &'static str)>, AppError> {
    let mut out = vec![];
    for (user, password, what) in [
        (DEMO_OWNER, DEMO_PASSWORD, "merchant owner / 商户老板"),
        (
            DEMO_ADMIN,
            DEMO_ADMIN_PASSWORD,
            "platform admin / 平台管理员",
        ),
    ] {
        if let Some(u) = auth_store::user_by_username(db, user).await?
            && !u.disabled
            && verify_password(password, &u.password_hash)
        {
            out.push((user, password, what));
        }
    }
    Ok(out)
}

pub async fn ensure_demo(db: &Db, public_url: &str, now: i64) -> Result<i64, AppError> {
    let merchant_id = match crate::merchants::by_name(db, DEMO_MERCHANT).await? {
        Some(m) => m.id,
        None => {
            crate::merchants::create(
                db,
                &MerchantInput {
                    name: DEMO_MERCHANT.into(),
                    timezone: None,
                },
                now,
            )
            .await?
            .id
        }
    };
    ensure_platform_admin(db, now).await?;
    for (username, display, role) in [
        (DEMO_OWNER, "王老板", Role::Owner),
        ("xiaozhou", "小周（运营）", Role::Operator),
        ("xiaoli", "小李（客服）", Role::Agent),
        ("xiaochen", "小陈（店员）", Role::Clerk),
    ] {
        if auth_store::user_by_username(db, username).await?.is_none() {
            let input = StaffInput {
                username: username.into(),
                display_name: display.into(),
                password: DEMO_PASSWORD.into(),
                role,
            };
            crate::merchants::add_staff(db, merchant_id, &input, Role::Owner, now).await?;
        }
    }
    if crate::accounts::choices(db, merchant_id).await?.is_empty() {
        for (name, kind, verified, mode) in [
            ("掌柜咖啡服务号", "service", true, "safe"),
            ("掌柜咖啡订阅号", "subscription", false, "plaintext"),
        ] {
            let input = AccountInput {
                name: name.into(),
                kind: kind.into(),
                verified,
                security_mode: mode.into(),
                sandbox: Some(true),
                ..AccountInput::default()
            };
            let account =
                crate::accounts::create(db, merchant_id, &input, Mode::Sandbox, public_url, now)
                    .await?;
            let replies = crate::accounts::model::RepliesInput {
                welcome_text:
                    "欢迎关注掌柜咖啡！☕ 每天 8:00–22:00 营业，回复「菜单」看看今天的新品。".into(),
                default_reply_text: "收到您的消息啦，店员会尽快回复您～".into(),
            };
            crate::accounts::set_replies(db, merchant_id, account.id, &replies, now).await?;
        }
    }
    Ok(merchant_id)
}

async fn ensure_platform_admin(db: &Db, now: i64) -> Result<(), AppError> {
    if auth_store::user_by_username(db, DEMO_ADMIN)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let hash = hash_password(DEMO_ADMIN_PASSWORD).map_err(AppError::internal)?;
    let mut tx = db.begin().await?;
    auth_store::insert_user(
        &mut tx,
        &auth_store::NewUser {
            username: DEMO_ADMIN,
            display_name: "平台管理员",
            password_hash: &hash,
            is_platform_admin: true,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
