//! Custom menus (自定义菜单): an account's default menu and its personalized menus (one per
//! tag, WeChat's `addconditional` with a `tag_id` rule), edited here, published to WeChat,
//! compared with what WeChat serves, and their taps counted from the message log (jobs.rs).
//!
//! WeChat is the authority on what followers see: publishing calls WeChat first with the
//! account's shared token and records the published tree only when WeChat accepted; a
//! refusal comes back explained in the merchant's language (model::explain_refusal).
//! Media and article buttons name library items; their WeChat ids come from
//! `library::wechat` (uploaded or published once per account, then cached).

pub mod jobs;
pub mod model;
pub mod routes;
pub mod store;

use std::collections::HashMap;

use model::{ButtonType, Difference, MenuButton, WeChatIds};
use serde::{Deserialize, Serialize};
pub use store::MenuRow;
use utoipa::ToSchema;
use wechat::api::ApiError;
use wechat::api::menu::{self as wx, MatchRule};

use crate::accounts::AccountRow;
use crate::merchants::field_error;
use crate::platform::db::{Db, is_unique_violation};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;

impl MenuRow {
    pub fn tree(&self) -> Vec<MenuButton> {
        serde_json::from_str(&self.buttons).unwrap_or_default()
    }

    pub fn published_tree(&self) -> Option<Vec<MenuButton>> {
        self.published
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
    }

    pub fn is_default(&self) -> bool {
        self.tag_id.is_none()
    }

    /// Published, and the buttons are still what WeChat has.
    pub fn up_to_date(&self) -> bool {
        self.published_tree().is_some_and(|p| p == self.tree())
    }
}

/// What the editor and the API send to create a menu.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct MenuInput {
    /// One of the account's tags (our id) for a personalized menu; absent for the default
    /// menu (one per account).
    #[serde(default)]
    pub tag_id: Option<i64>,
    /// 1–3 top buttons.
    pub button: Vec<MenuButton>,
}

/// What the editor and the API send to change a menu's buttons.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct MenuEdit {
    pub button: Vec<MenuButton>,
}

fn new_key() -> String {
    format!(
        "ZG_{}",
        crate::platform::auth::model::random_token(6).to_uppercase()
    )
}

/// The merchant's account, or 404.
pub async fn account(db: &Db, merchant_id: i64, account_id: i64) -> Result<AccountRow, AppError> {
    crate::accounts::get(db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A menu of this merchant on this account (404 otherwise).
pub async fn get(db: &Db, merchant_id: i64, account_id: i64, id: i64) -> Result<MenuRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .filter(|m| m.account_id == account_id)
        .ok_or(AppError::NotFound)
}

/// A menu of this merchant, whatever its account.
pub async fn get_any(db: &Db, merchant_id: i64, id: i64) -> Result<MenuRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn list(db: &Db, merchant_id: i64, account_id: i64) -> Result<Vec<MenuRow>, AppError> {
    Ok(store::list(db, merchant_id, account_id).await?)
}

/// (id, WeChat's id, name) of the account's tags.
pub async fn tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, i64, String)>, AppError> {
    Ok(store::tags(db, merchant_id, account_id).await?)
}

/// Checks the buttons (WeChat's limits, then that every library item is the merchant's and
/// of a kind the button can use) and returns them cleaned.
pub async fn check_buttons(
    db: &Db,
    merchant_id: i64,
    buttons: &[MenuButton],
) -> Result<Vec<MenuButton>, AppError> {
    let clean = model::validate(buttons, &mut new_key).map_err(AppError::Validation)?;
    let mut errors = FieldErrors::default();
    for (at, _, t, item_id) in model::item_uses(&clean) {
        let field = format!("{at}.item_id");
        match crate::library::get(db, merchant_id, item_id).await {
            Ok(item) if t.item_kinds().contains(&item.kind.as_str()) => {}
            Ok(_) => errors.add(&field, Msg::new("menu.item_wrong_kind")),
            Err(AppError::NotFound) => errors.add(&field, Msg::new("menu.item_missing")),
            Err(e) => return Err(e),
        }
    }
    errors.into_result(clean)
}

fn to_json(buttons: &[MenuButton]) -> Result<String, AppError> {
    serde_json::to_string(buttons).map_err(AppError::internal)
}

/// Creates the account's default menu or a personalized menu for one of its tags (not yet
/// published).
pub async fn create(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &MenuInput,
    now: i64,
) -> Result<MenuRow, AppError> {
    account(db, merchant_id, account_id).await?;
    let existing = store::list(db, merchant_id, account_id).await?;
    match input.tag_id {
        None if existing.iter().any(MenuRow::is_default) => {
            return Err(AppError::Conflict(Msg::new("menu.default_exists")));
        }
        None => {}
        Some(tag_id) => {
            let tags = store::tags(db, merchant_id, account_id).await?;
            if !tags.iter().any(|(id, _, _)| *id == tag_id) {
                return Err(field_error("tag_id", Msg::new("menu.bad_tag")));
            }
            if existing.iter().any(|m| m.tag_id == Some(tag_id)) {
                return Err(field_error("tag_id", Msg::new("menu.tag_taken")));
            }
        }
    }
    let clean = check_buttons(db, merchant_id, &input.button).await?;
    let json = to_json(&clean)?;
    let id = match store::insert(db, merchant_id, account_id, input.tag_id, &json, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(match input.tag_id {
                None => AppError::Conflict(Msg::new("menu.default_exists")),
                Some(_) => field_error("tag_id", Msg::new("menu.tag_taken")),
            });
        }
        Err(e) => return Err(e.into()),
    };
    get(db, merchant_id, account_id, id).await
}

/// Changes a menu's buttons (WeChat keeps the published ones until the next publish).
pub async fn update(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
    buttons: &[MenuButton],
    now: i64,
) -> Result<MenuRow, AppError> {
    get(db, merchant_id, account_id, id).await?;
    let clean = check_buttons(db, merchant_id, buttons).await?;
    if !store::update_buttons(db, merchant_id, id, &to_json(&clean)?, now).await? {
        return Err(AppError::NotFound);
    }
    get(db, merchant_id, account_id, id).await
}

/// WeChat's refusal of a menu call, explained.
pub fn wechat_error(e: &ApiError) -> AppError {
    tracing::info!(error = %e, "WeChat refused a menu call");
    match e.errcode() {
        Some(code) => AppError::Conflict(model::explain_refusal(code)),
        None => AppError::Upstream(Msg::new("menu.wx_unreachable")),
    }
}

/// The buttons as WeChat takes them, every library item resolved to its WeChat id
/// (uploading or publishing it first when this account never had it).
async fn resolved(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    buttons: &[MenuButton],
) -> Result<Vec<wx::Button>, AppError> {
    let mut ids = WeChatIds::default();
    for (_, _, t, item_id) in model::item_uses(buttons) {
        match t {
            ButtonType::MediaId | ButtonType::ViewLimited if !ids.media.contains_key(&item_id) => {
                let id = crate::library::wechat::permanent_media_id(
                    state,
                    merchant_id,
                    account_id,
                    item_id,
                )
                .await?;
                ids.media.entry(item_id).or_insert(id);
            }
            ButtonType::ArticleId | ButtonType::ArticleViewLimited
                if !ids.articles.contains_key(&item_id) =>
            {
                let id = crate::library::wechat::published_article_id(
                    state,
                    merchant_id,
                    account_id,
                    item_id,
                )
                .await?;
                ids.articles.entry(item_id).or_insert(id);
            }
            _ => {}
        }
    }
    Ok(model::to_wechat(buttons, &ids))
}

/// Publishes a menu to WeChat: `menu/create` for the default menu, `addconditional` (after
/// removing its previous version) for a personalized one. Nothing is recorded as published
/// unless WeChat accepted.
pub async fn publish(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<MenuRow, AppError> {
    let db = &state.db;
    let account = account(db, merchant_id, account_id).await?;
    let menu = get(db, merchant_id, account_id, id).await?;
    let buttons = check_buttons(db, merchant_id, &menu.tree()).await?;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    let menuid = match menu.tag_id {
        None => {
            let wx_buttons = resolved(state, merchant_id, account_id, &buttons).await?;
            wx::create(&tokens, &wx::Menu { button: wx_buttons })
                .await
                .map_err(|e| wechat_error(&e))?;
            None
        }
        Some(tag_id) => {
            let all = store::list(db, merchant_id, account_id).await?;
            if !all.iter().any(|m| m.is_default() && m.published.is_some()) {
                return Err(AppError::Conflict(Msg::new("menu.publish_default_first")));
            }
            let tags = store::tags(db, merchant_id, account_id).await?;
            let Some((_, wx_tag_id, _)) = tags.iter().find(|(t, _, _)| *t == tag_id) else {
                return Err(AppError::Conflict(Msg::new("menu.tag_gone")));
            };
            // WeChat allows 3 link domains across all personalized menus.
            let mut domains = model::link_domains(&buttons);
            for other in all.iter().filter(|m| !m.is_default() && m.id != id) {
                if let Some(p) = other.published_tree() {
                    domains.extend(model::link_domains(&p));
                }
            }
            if domains.len() > 3 {
                return Err(AppError::Conflict(model::explain_refusal(65316)));
            }
            let wx_buttons = resolved(state, merchant_id, account_id, &buttons).await?;
            if let Some(old) = menu.wx_menuid.as_deref() {
                match wx::del_conditional(&tokens, old).await {
                    Ok(()) => {}
                    Err(e) if e.errcode() == Some(65301) => {}
                    Err(e) => return Err(wechat_error(&e)),
                }
            }
            let made = wx::add_conditional(&tokens, &wx_buttons, &MatchRule::tag(*wx_tag_id)).await;
            match made {
                Ok(menuid) => Some(menuid),
                Err(e) => {
                    // The previous version is gone at WeChat: say so here too.
                    if menu.wx_menuid.is_some() {
                        store::mark_unpublished(db, merchant_id, id).await?;
                    }
                    return Err(wechat_error(&e));
                }
            }
        }
    };
    let json = to_json(&buttons)?;
    store::update_buttons(db, merchant_id, id, &json, state.clock.now_ms()).await?;
    store::mark_published(
        db,
        merchant_id,
        id,
        &json,
        menuid.as_deref(),
        state.clock.now_ms(),
    )
    .await?;
    get(db, merchant_id, account_id, id).await
}

/// Deletes a menu, at WeChat first when it is published there. The default menu goes only
/// when no personalized menu is left (WeChat's `menu/delete` removes every menu).
pub async fn delete(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<(), AppError> {
    let db = &state.db;
    let account = account(db, merchant_id, account_id).await?;
    let menu = get(db, merchant_id, account_id, id).await?;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    if menu.is_default() {
        let others = store::list(db, merchant_id, account_id).await?;
        if others.iter().any(|m| !m.is_default()) {
            return Err(AppError::Conflict(Msg::new("menu.delete_personal_first")));
        }
        if menu.published.is_some() {
            wx::delete(&tokens).await.map_err(|e| wechat_error(&e))?;
        }
    } else if let Some(menuid) = menu.wx_menuid.as_deref() {
        match wx::del_conditional(&tokens, menuid).await {
            Ok(()) => {}
            // Already gone at WeChat.
            Err(e) if e.errcode() == Some(65301) => {}
            Err(e) => return Err(wechat_error(&e)),
        }
    }
    if !store::delete(db, merchant_id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// One of our menus (or one only WeChat has) beside what WeChat serves.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Comparison {
    /// Our menu; `None` for a personalized menu only WeChat has.
    pub menu_id: Option<i64>,
    /// Our tag of a personalized menu.
    pub tag_id: Option<i64>,
    /// WeChat's tag id of the rule (personalized menus).
    pub wx_tag_id: Option<String>,
    pub wx_menuid: Option<String>,
    /// WeChat serves this menu.
    pub at_wechat: bool,
    /// WeChat serves exactly our buttons.
    pub same: bool,
    pub differences: Vec<Difference>,
    /// The buttons as WeChat serves them (WeChat's JSON).
    #[schema(value_type = Object)]
    pub wechat_button: serde_json::Value,
}

/// WeChat's live menus (`menu/get`) compared with ours.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Live {
    /// WeChat has a default menu for the account.
    pub has_menu: bool,
    /// Every menu matches ours.
    pub same: bool,
    pub menus: Vec<Comparison>,
}

/// Pulls the live menus from WeChat and compares them with ours, button by button (media
/// and article buttons by the WeChat ids cached for the account).
pub async fn live(state: &AppState, merchant_id: i64, account_id: i64) -> Result<Live, AppError> {
    let db = &state.db;
    let account = account(db, merchant_id, account_id).await?;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    let menus = wx::get(&tokens).await.map_err(|e| wechat_error(&e))?;
    let ours = store::list(db, merchant_id, account_id).await?;
    let tags = store::tags(db, merchant_id, account_id).await?;
    let (media, articles) = crate::library::wechat::cached_ids(db, account_id).await?;
    let ids = WeChatIds {
        media: media.into_iter().collect(),
        articles: articles.into_iter().collect(),
    };
    let wx_tag_of: HashMap<i64, String> = tags
        .iter()
        .map(|(id, wx, _)| (*id, wx.to_string()))
        .collect();
    let json = |b: &[wx::Button]| serde_json::to_value(b).unwrap_or_default();
    let mut out = vec![];
    let (default_live, conditional_live) = match &menus {
        Some(m) => (Some(&m.menu), m.conditionalmenu.iter().collect::<Vec<_>>()),
        None => (None, vec![]),
    };
    let mut seen_conditional = vec![];
    for menu in &ours {
        let mine = model::to_wechat(&menu.tree(), &ids);
        let theirs: Option<(&[wx::Button], Option<String>)> = match menu.tag_id {
            None => default_live.map(|d| (d.button.as_slice(), d.menuid.clone())),
            Some(tag) => {
                let wx_tag = wx_tag_of.get(&tag);
                conditional_live
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, c)| {
                        wx_tag.is_some() && c.matchrule.tag_id.as_ref() == wx_tag
                            || menu.wx_menuid.as_deref() == Some(c.menuid.as_str())
                    })
                    .map(|(i, c)| {
                        seen_conditional.push(i);
                        (c.button.as_slice(), Some(c.menuid.clone()))
                    })
            }
        };
        let differences = match theirs {
            Some((b, _)) => model::compare(&mine, b),
            None => vec![],
        };
        out.push(Comparison {
            menu_id: Some(menu.id),
            tag_id: menu.tag_id,
            wx_tag_id: menu.tag_id.and_then(|t| wx_tag_of.get(&t).cloned()),
            wx_menuid: theirs.as_ref().and_then(|(_, m)| m.clone()),
            at_wechat: theirs.is_some(),
            same: theirs.is_some() && differences.is_empty(),
            differences,
            wechat_button: theirs.map(|(b, _)| json(b)).unwrap_or_default(),
        });
    }
    if !ours.iter().any(MenuRow::is_default)
        && let Some(d) = default_live
    {
        out.insert(
            0,
            Comparison {
                menu_id: None,
                tag_id: None,
                wx_tag_id: None,
                wx_menuid: d.menuid.clone(),
                at_wechat: true,
                same: false,
                differences: model::compare(&[], &d.button),
                wechat_button: json(&d.button),
            },
        );
    }
    for (i, c) in conditional_live.iter().enumerate() {
        if !seen_conditional.contains(&i) {
            out.push(Comparison {
                menu_id: None,
                tag_id: None,
                wx_tag_id: c.matchrule.tag_id.clone(),
                wx_menuid: Some(c.menuid.clone()),
                at_wechat: true,
                same: false,
                differences: model::compare(&[], &c.button),
                wechat_button: json(&c.button),
            });
        }
    }
    Ok(Live {
        has_menu: default_live.is_some(),
        same: out.iter().all(|c| c.same),
        menus: out,
    })
}

/// (event key, library item id) of the account's published menus: what a CLICK event with
/// that key is answered with. The default menu comes first, then personalized menus.
pub async fn click_replies(db: &Db, account_id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out: Vec<(String, i64)> = vec![];
    for json in store::published_of(db, account_id).await? {
        let tree: Vec<MenuButton> = serde_json::from_str(&json).unwrap_or_default();
        for (key, item) in model::click_replies(&tree) {
            if !out.iter().any(|(k, i)| *k == key && *i == item) {
                out.push((key, item));
            }
        }
    }
    Ok(out)
}

/// (account id, button name) of every menu button of the merchant that uses the item,
/// whether in the saved buttons or in those published at WeChat.
pub async fn usages(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    let mut out = vec![];
    for menu in store::of_merchant(db, merchant_id).await? {
        let mut trees = vec![menu.tree()];
        trees.extend(menu.published_tree());
        let mut names: Vec<String> = vec![];
        for tree in &trees {
            for (_, b, _, id) in model::item_uses(tree) {
                if id == item_id && !names.contains(&b.name) {
                    names.push(b.name.clone());
                }
            }
        }
        out.extend(names.into_iter().map(|n| (menu.account_id, menu.id, n)));
    }
    Ok(out)
}

/// The account's taps by (kind, target): `("click", key)` and `("view", url)`.
pub async fn taps(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<HashMap<(String, String), i64>, sqlx::Error> {
    Ok(store::taps(db, merchant_id, account_id)
        .await?
        .into_iter()
        .map(|(k, t, n)| ((k, t), n))
        .collect())
}
