//! The menu pages (`/menus`: the account's menus, the editor, the live comparison) and
//! `/api/v1/accounts/{account_id}/menus`.
//!
//! The editor is a form that posts the menu's JSON (`buttons`); `assets/menu_editor.js`
//! turns it into a phone-like preview with fields per button and live byte counters, and
//! keeps the JSON in step. Without JavaScript the JSON is edited as text.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{self, ButtonType, MenuButton, Needs};
use super::{Comparison, Live, MenuEdit, MenuInput, MenuRow};
use crate::accounts::AccountRow;
use crate::accounts::model::WeChatFeature;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{Lang, Msg};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

/// Reading menus and their taps; changing and publishing them (as the reply rules: the menu
/// is what the account answers with).
const VIEW: Permission = Permission::ViewReplies;
const MANAGE: Permission = Permission::ManageReplies;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/menus", get(list_page).post(create_form))
        .route("/menus/new", get(new_page))
        .route("/menus/live", get(live_page))
        .route("/menus/{id}", get(edit_page).post(update_form))
        .route("/menus/{id}/publish", post(publish_form))
        .route("/menus/{id}/delete", post(delete_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_live))
        .routes(routes!(api_get, api_update, api_delete))
        .routes(routes!(api_publish))
}

// ---- shared views ----

type Taps = HashMap<(String, String), i64>;

fn tag_name(tags: &[(i64, i64, String)], tag_id: Option<i64>) -> Option<String> {
    let t = tag_id?;
    tags.iter()
        .find(|(id, _, _)| *id == t)
        .map(|(_, _, n)| n.clone())
}

/// The menu's title: 默认菜单, or 个性化菜单 · the tag.
fn menu_title(lang: Lang, tags: &[(i64, i64, String)], tag_id: Option<i64>) -> String {
    match tag_id {
        None => lang.t("menu.default").to_string(),
        Some(_) => {
            let name = tag_name(tags, tag_id).unwrap_or_else(|| lang.t("menu.tag_deleted").into());
            lang.render(&Msg::new("menu.personal_for").arg("tag", name))
        }
    }
}

fn status_of(m: &MenuRow) -> (&'static str, &'static str) {
    if m.published.is_none() {
        ("menu.status.draft", "badge")
    } else if m.up_to_date() {
        ("menu.status.published", "badge badge-ok")
    } else {
        ("menu.status.changed", "badge badge-warn")
    }
}

/// One button as the pages list it.
struct RowView {
    place: String,
    name: String,
    sub: bool,
    type_label: &'static str,
    target: String,
    taps: Option<i64>,
}

fn rows_of(
    lang: Lang,
    buttons: &[MenuButton],
    items: &HashMap<i64, String>,
    taps: &Taps,
) -> Vec<RowView> {
    let mut out = vec![];
    let target = |b: &MenuButton| -> String {
        match b.button_type().map(ButtonType::needs) {
            Some(Needs::Url) => b.url.clone(),
            Some(Needs::MiniProgram) => format!("{} {}", b.appid, b.pagepath),
            Some(Needs::Item) => b
                .item_id
                .and_then(|i| items.get(&i).cloned())
                .unwrap_or_default(),
            Some(Needs::Key) => match b.item_id.and_then(|i| items.get(&i)) {
                Some(title) => format!("{} → {title}", b.key),
                None => b.key.clone(),
            },
            None => String::new(),
        }
    };
    for (i, b) in buttons.iter().enumerate() {
        out.push(RowView {
            place: (i + 1).to_string(),
            name: b.name.clone(),
            sub: false,
            type_label: if b.is_parent() {
                lang.t("menu.type.parent")
            } else {
                b.button_type().map_or("", |t| lang.t(t.label_key()))
            },
            target: target(b),
            taps: model::taps_of(b, taps),
        });
        for (j, s) in b.sub_button.iter().enumerate() {
            out.push(RowView {
                place: format!("{}-{}", i + 1, j + 1),
                name: s.name.clone(),
                sub: true,
                type_label: s.button_type().map_or("", |t| lang.t(t.label_key())),
                target: target(s),
                taps: model::taps_of(s, taps),
            });
        }
    }
    out
}

/// The console's shell with the account it works on: the switcher's, which agents (who
/// cannot see the accounts page) also get here.
async fn shell_with_account(
    state: &AppState,
    caller: &Caller,
    title_key: &str,
    uri: &Uri,
) -> Result<Shell, AppError> {
    let mut shell = Shell::for_caller(state, caller, "menus", title_key, uri).await?;
    if shell.accounts.is_empty() {
        shell.accounts = crate::accounts::choices(&state.db, caller.merchant_id).await?;
        shell.account_id = caller
            .user()
            .and_then(|u| u.account_id)
            .filter(|id| shell.accounts.iter().any(|a| a.id == *id))
            .or_else(|| shell.accounts.first().map(|a| a.id));
    }
    Ok(shell)
}

/// The account the console works on: the switcher's.
async fn current_account(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
) -> Result<Option<AccountRow>, AppError> {
    match shell.account_id {
        Some(id) => Ok(crate::accounts::get(&state.db, caller.merchant_id, id).await?),
        None => Ok(None),
    }
}

/// Why the account cannot have menus, if it cannot.
fn rights_warning(account: &AccountRow) -> Option<&'static str> {
    WeChatFeature::Menu
        .refusal(account.kind(), account.verified)
        .map(|_| "menu.no_rights_hint")
}

/// The merchant's library items the editor may pick: id → title.
async fn library_items(
    state: &AppState,
    merchant_id: i64,
) -> Result<Vec<crate::library::ItemRow>, AppError> {
    let filter = crate::library::store::ListFilter { kind: "", q: "" };
    Ok(crate::library::store::list(&state.db, merchant_id, &filter, 0, false, 500).await?)
}

// ---- the list ----

struct MenuSummary {
    id: i64,
    title: String,
    status_key: &'static str,
    status_class: &'static str,
    published: Option<String>,
    rows: Vec<RowView>,
}

#[derive(Template)]
#[template(path = "menus/list.html")]
struct ListPage {
    shell: Shell,
    account: Option<(i64, String)>,
    warning: Option<&'static str>,
    menus: Vec<MenuSummary>,
    has_default: bool,
    /// Tags with no menu yet: (id, name).
    free_tags: Vec<(i64, String)>,
    can_manage: bool,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(VIEW)?;
    let shell = shell_with_account(&state, &caller, "menus.title", &uri).await?;
    let can_manage = caller.role.allows(MANAGE);
    let Some(account) = current_account(&state, &caller, &shell).await? else {
        return page(&ListPage {
            shell,
            account: None,
            warning: None,
            menus: vec![],
            has_default: false,
            free_tags: vec![],
            can_manage,
        });
    };
    let db = &state.db;
    let tz = crate::merchants::timezone(db, caller.merchant_id).await?;
    let rows = super::list(db, caller.merchant_id, account.id).await?;
    let tags = super::tags(db, caller.merchant_id, account.id).await?;
    let taps = super::taps(db, caller.merchant_id, account.id).await?;
    let items: HashMap<i64, String> = library_items(&state, caller.merchant_id)
        .await?
        .into_iter()
        .map(|i| (i.id, i.title))
        .collect();
    let lang = caller.lang;
    let menus = rows
        .iter()
        .map(|m| {
            let (status_key, status_class) = status_of(m);
            MenuSummary {
                id: m.id,
                title: menu_title(lang, &tags, m.tag_id),
                status_key,
                status_class,
                published: m.published_at.map(|t| format_local(t, tz)),
                rows: rows_of(lang, &m.tree(), &items, &taps),
            }
        })
        .collect();
    let free_tags = tags
        .iter()
        .filter(|(id, _, _)| !rows.iter().any(|m| m.tag_id == Some(*id)))
        .map(|(id, _, n)| (*id, n.clone()))
        .collect();
    page(&ListPage {
        warning: rights_warning(&account),
        account: Some((account.id, account.name.clone())),
        has_default: rows.iter().any(MenuRow::is_default),
        menus,
        free_tags,
        can_manage,
        shell,
    })
}

// ---- the editor ----

/// Texts the editor script needs.
const EDITOR_KEYS: &[&str] = &[
    "menu.add_button",
    "menu.add_sub",
    "menu.remove",
    "menu.move_left",
    "menu.move_right",
    "menu.move_up",
    "menu.move_down",
    "menu.field.name",
    "menu.field.type",
    "menu.field.key",
    "menu.field.url",
    "menu.field.item_id",
    "menu.field.reply",
    "menu.field.appid",
    "menu.field.pagepath",
    "menu.key_hint",
    "menu.reply_none",
    "menu.pick_item",
    "menu.parent_hint",
    "menu.bytes",
    "menu.top_name_too_long",
    "menu.sub_name_too_long",
    "menu.key_too_long",
    "menu.url_too_long",
    "menu.url_invalid",
    "menu.name_required",
    "menu.url_required",
    "menu.item_required",
    "menu.appid_required",
    "menu.pagepath_required",
    "menu.taps",
    "menu.select_hint",
    "menu.empty_preview",
    "menu.type.parent",
    "menu.max_buttons_reached",
    "menu.max_subs_reached",
    "menu.unsaved",
    "library.kind.text",
    "library.kind.image",
    "library.kind.voice",
    "library.kind.video",
    "library.kind.news",
];

#[derive(Template)]
#[template(path = "menus/edit.html")]
struct EditPage {
    shell: Shell,
    account_id: i64,
    account_name: String,
    /// `None` when new.
    id: Option<i64>,
    tag_id: Option<i64>,
    title: String,
    status: Option<(&'static str, &'static str)>,
    published: Option<String>,
    buttons_json: String,
    errors: FieldErrors,
    refusal: Option<String>,
    rows: Vec<RowView>,
    data_json: String,
    warning: Option<&'static str>,
    can_manage: bool,
    tags: Vec<(i64, String)>,
}

impl EditPage {
    /// "菜单 2-3 · 名称：message" for each error.
    fn error_summary(&self) -> Vec<String> {
        let colon = if self.shell.is_zh() { "：" } else { ": " };
        self.errors
            .0
            .iter()
            .map(|e| {
                format!(
                    "{}{colon}{}",
                    field_label(self.shell.lang, &e.field),
                    self.shell.lang.render(&e.msg)
                )
            })
            .collect()
    }

    fn tag_selected(&self, id: &i64) -> bool {
        self.tag_id == Some(*id)
    }
}

/// `button[1].sub_button[2].name` → "菜单 2-3 · 名称".
fn field_label(lang: Lang, field: &str) -> String {
    let mut place = vec![];
    let mut last = "";
    for part in field.split('.') {
        match part.split_once('[') {
            Some((_, rest)) => {
                let n: usize = rest.trim_end_matches(']').parse().unwrap_or(0);
                place.push((n + 1).to_string());
            }
            None => last = part,
        }
    }
    let what = match last {
        "" | "button" => "",
        "sub_button" => lang.t("menu.field.sub_button"),
        "name" => lang.t("menu.field.name"),
        "type" => lang.t("menu.field.type"),
        "key" => lang.t("menu.field.key"),
        "url" => lang.t("menu.field.url"),
        "item_id" => lang.t("menu.field.item_id"),
        "appid" => lang.t("menu.field.appid"),
        "pagepath" => lang.t("menu.field.pagepath"),
        "tag_id" => lang.t("menu.field.tag"),
        _ => lang.t("menu.field.buttons"),
    };
    let mut out = String::new();
    if place.is_empty() {
        out.push_str(if what.is_empty() {
            lang.t("menu.field.buttons")
        } else {
            what
        });
    } else {
        out.push_str(lang.t("menu.field.button"));
        out.push(' ');
        out.push_str(&place.join("-"));
        if !what.is_empty() {
            out.push_str(" · ");
            out.push_str(what);
        }
    }
    out
}

#[derive(Serialize)]
struct EditorItem {
    id: i64,
    kind: String,
    title: String,
}

#[derive(Serialize)]
struct EditorType {
    value: &'static str,
    label: &'static str,
    needs: &'static str,
    kinds: &'static [&'static str],
}

#[derive(Serialize)]
struct EditorData<'a> {
    /// The account's name, for the phone's title bar.
    account: &'a str,
    buttons: &'a serde_json::Value,
    items: Vec<EditorItem>,
    types: Vec<EditorType>,
    /// [kind, target, taps]
    taps: Vec<(String, String, i64)>,
    errors: BTreeMap<String, String>,
    text: BTreeMap<&'static str, &'static str>,
    limits: BTreeMap<&'static str, usize>,
}

struct EditState {
    account: AccountRow,
    menu: Option<MenuRow>,
    tag_id: Option<i64>,
    buttons_json: String,
    errors: FieldErrors,
    refusal: Option<String>,
}

async fn render_editor(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    e: EditState,
) -> Result<Response, AppError> {
    let db = &state.db;
    let lang = caller.lang;
    let title_key = if e.menu.is_some() {
        "menus.edit_title"
    } else {
        "menus.new_title"
    };
    let mut shell = shell_with_account(state, caller, title_key, uri).await?;
    let tags = super::tags(db, caller.merchant_id, e.account.id).await?;
    let title = menu_title(lang, &tags, e.tag_id);
    if e.menu.is_some() {
        shell.title = title.clone();
    }
    let taps = super::taps(db, caller.merchant_id, e.account.id).await?;
    let library = library_items(state, caller.merchant_id).await?;
    let titles: HashMap<i64, String> = library.iter().map(|i| (i.id, i.title.clone())).collect();
    let parsed: Vec<MenuButton> = serde_json::from_str(&e.buttons_json).unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(&e.buttons_json).unwrap_or(serde_json::Value::Array(vec![]));
    let tz = crate::merchants::timezone(db, caller.merchant_id).await?;
    let data = EditorData {
        account: &e.account.name,
        buttons: &value,
        items: library
            .iter()
            .map(|i| EditorItem {
                id: i.id,
                kind: i.kind.clone(),
                title: i.title.clone(),
            })
            .collect(),
        types: ButtonType::ALL
            .iter()
            .map(|t| EditorType {
                value: t.as_str(),
                label: lang.t(t.label_key()),
                needs: match t.needs() {
                    Needs::Key => "key",
                    Needs::Url => "url",
                    Needs::Item => "item",
                    Needs::MiniProgram => "miniprogram",
                },
                kinds: t.item_kinds(),
            })
            .collect(),
        taps: taps
            .iter()
            .map(|((k, t), n)| (k.clone(), t.clone(), *n))
            .collect(),
        errors: e
            .errors
            .0
            .iter()
            .map(|fe| (fe.field.clone(), lang.render(&fe.msg)))
            .collect(),
        text: EDITOR_KEYS.iter().map(|k| (*k, lang.t(k))).collect(),
        limits: BTreeMap::from([
            ("buttons", model::MAX_BUTTONS),
            ("subs", model::MAX_SUB_BUTTONS),
            ("top_name", model::MAX_TOP_NAME_BYTES),
            ("sub_name", model::MAX_SUB_NAME_BYTES),
            ("key", model::MAX_KEY_BYTES),
            ("url", model::MAX_URL_BYTES),
        ]),
    };
    let data_json = serde_json::to_string(&data)
        .map_err(AppError::internal)?
        .replace('<', "\\u003c");
    let failed = !e.errors.is_empty() || e.refusal.is_some();
    let mut res = page(&EditPage {
        account_id: e.account.id,
        account_name: e.account.name.clone(),
        id: e.menu.as_ref().map(|m| m.id),
        tag_id: e.tag_id,
        title,
        status: e.menu.as_ref().map(status_of),
        published: e
            .menu
            .as_ref()
            .and_then(|m| m.published_at)
            .map(|t| format_local(t, tz)),
        rows: rows_of(lang, &parsed, &titles, &taps),
        buttons_json: e.buttons_json,
        errors: e.errors,
        refusal: e.refusal,
        data_json,
        warning: rights_warning(&e.account),
        can_manage: caller.role.allows(MANAGE),
        tags: tags.into_iter().map(|(id, _, n)| (id, n)).collect(),
        shell,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

fn pretty(buttons: &[MenuButton]) -> String {
    serde_json::to_string_pretty(buttons).unwrap_or_else(|_| "[]".into())
}

#[derive(Deserialize, Default)]
struct NewParams {
    tag_id: Option<String>,
}

/// A starting point for a new menu: one button to rename.
fn starter(lang: Lang) -> Vec<MenuButton> {
    vec![MenuButton {
        name: lang.t("menu.starter_name").to_string(),
        kind: "click".into(),
        ..MenuButton::default()
    }]
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(q): Query<NewParams>,
) -> Result<Response, AppError> {
    caller.require(MANAGE)?;
    let shell = shell_with_account(&state, &caller, "menus.new_title", &uri).await?;
    let account = current_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let tag_id = q.tag_id.as_deref().and_then(|t| t.trim().parse().ok());
    render_editor(
        &state,
        &caller,
        &uri,
        EditState {
            account,
            menu: None,
            tag_id,
            buttons_json: pretty(&starter(caller.lang)),
            errors: FieldErrors::default(),
            refusal: None,
        },
    )
    .await
}

/// An HTML form posts strings.
#[derive(Deserialize)]
struct MenuForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    tag_id: String,
    #[serde(default)]
    buttons: String,
}

impl MenuForm {
    fn tag_id(&self) -> Option<i64> {
        self.tag_id.trim().parse().ok()
    }

    fn buttons(&self) -> Result<Vec<MenuButton>, AppError> {
        serde_json::from_str(&self.buttons)
            .map_err(|_| crate::merchants::field_error("buttons", Msg::new("menu.bad_json")))
    }
}

/// What a failed change shows: the form again with field errors or WeChat's refusal.
fn failure(caller: &Caller, e: AppError) -> Result<(FieldErrors, Option<String>), AppError> {
    match e {
        AppError::Validation(errors) => Ok((errors, None)),
        AppError::Conflict(msg) | AppError::Upstream(msg) => {
            Ok((FieldErrors::default(), Some(caller.lang.render(&msg))))
        }
        other => Err(other),
    }
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<MenuForm>,
) -> Result<Response, AppError> {
    caller.require(MANAGE)?;
    let account_id: i64 = f
        .account_id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let account = super::account(&state.db, caller.merchant_id, account_id).await?;
    let result = match f.buttons() {
        Ok(button) => {
            let input = MenuInput {
                tag_id: f.tag_id(),
                button,
            };
            super::create(
                &state.db,
                caller.merchant_id,
                account.id,
                &input,
                state.clock.now_ms(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(m) => Ok(Redirect::to(&format!("/menus/{}?notice=menu_saved", m.id)).into_response()),
        Err(e) => {
            let (errors, refusal) = failure(&caller, e)?;
            render_editor(
                &state,
                &caller,
                &uri,
                EditState {
                    account,
                    menu: None,
                    tag_id: f.tag_id(),
                    buttons_json: f.buttons.clone(),
                    errors,
                    refusal,
                },
            )
            .await
        }
    }
}

async fn editor_for(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(AccountRow, MenuRow), AppError> {
    let menu = super::get_any(&state.db, caller.merchant_id, id).await?;
    let account = super::account(&state.db, caller.merchant_id, menu.account_id).await?;
    Ok((account, menu))
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(VIEW)?;
    let (account, menu) = editor_for(&state, &caller, id).await?;
    let buttons_json = pretty(&menu.tree());
    render_editor(
        &state,
        &caller,
        &uri,
        EditState {
            account,
            tag_id: menu.tag_id,
            menu: Some(menu),
            buttons_json,
            errors: FieldErrors::default(),
            refusal: None,
        },
    )
    .await
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<MenuForm>,
) -> Result<Response, AppError> {
    caller.require(MANAGE)?;
    let (account, menu) = editor_for(&state, &caller, id).await?;
    let result = match f.buttons() {
        Ok(b) => {
            super::update(
                &state.db,
                caller.merchant_id,
                account.id,
                id,
                &b,
                state.clock.now_ms(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/menus/{id}?notice=menu_saved")).into_response()),
        Err(e) => {
            let (errors, refusal) = failure(&caller, e)?;
            render_editor(
                &state,
                &caller,
                &uri,
                EditState {
                    account,
                    tag_id: menu.tag_id,
                    menu: Some(menu),
                    buttons_json: f.buttons.clone(),
                    errors,
                    refusal,
                },
            )
            .await
        }
    }
}

async fn publish_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(MANAGE)?;
    let (account, menu) = editor_for(&state, &caller, id).await?;
    match super::publish(&state, caller.merchant_id, account.id, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/menus/{id}?notice=menu_published")).into_response()),
        Err(e) => {
            let (errors, refusal) = failure(&caller, e)?;
            let buttons_json = pretty(&menu.tree());
            render_editor(
                &state,
                &caller,
                &uri,
                EditState {
                    account,
                    tag_id: menu.tag_id,
                    menu: Some(menu),
                    buttons_json,
                    errors,
                    refusal,
                },
            )
            .await
        }
    }
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(MANAGE)?;
    let (account, menu) = editor_for(&state, &caller, id).await?;
    match super::delete(&state, caller.merchant_id, account.id, id).await {
        Ok(()) => Ok(Redirect::to("/menus?notice=menu_deleted").into_response()),
        Err(e) => {
            let (errors, refusal) = failure(&caller, e)?;
            let buttons_json = pretty(&menu.tree());
            render_editor(
                &state,
                &caller,
                &uri,
                EditState {
                    account,
                    tag_id: menu.tag_id,
                    menu: Some(menu),
                    buttons_json,
                    errors,
                    refusal,
                },
            )
            .await
        }
    }
}

// ---- the live comparison ----

struct DiffView {
    place: String,
    what: String,
    ours: String,
    wechat: String,
}

struct ComparisonView {
    title: String,
    menu_id: Option<i64>,
    at_wechat: bool,
    same: bool,
    differences: Vec<DiffView>,
    wechat_rows: Vec<RowView>,
}

#[derive(Template)]
#[template(path = "menus/live.html")]
struct LivePage {
    shell: Shell,
    account_name: String,
    refusal: Option<String>,
    has_menu: bool,
    same: bool,
    menus: Vec<ComparisonView>,
}

fn comparison_view(
    lang: Lang,
    c: &Comparison,
    tags: &[(i64, i64, String)],
    taps: &Taps,
) -> ComparisonView {
    let title = match (c.menu_id, c.tag_id, c.wx_tag_id.as_deref()) {
        (Some(_), tag, _) => menu_title(lang, tags, tag),
        (None, _, None) => lang.t("menu.default").to_string(),
        (None, _, Some(wx)) => lang.render(&Msg::new("menu.only_at_wechat_for").arg("tag", wx)),
    };
    let theirs: Vec<MenuButton> = from_wechat(&c.wechat_button);
    ComparisonView {
        title,
        menu_id: c.menu_id,
        at_wechat: c.at_wechat,
        same: c.same,
        differences: c
            .differences
            .iter()
            .map(|d| {
                // Types by their names in the editor (WeChat's own word when unknown).
                let shown = |v: &str| -> String {
                    if d.what != "type" {
                        return v.to_string();
                    }
                    match (v, ButtonType::parse(v)) {
                        ("sub_menu", _) => lang.t("menu.type.parent").to_string(),
                        (_, Some(t)) => lang.t(t.label_key()).to_string(),
                        (other, None) => other.to_string(),
                    }
                };
                DiffView {
                    place: d.place.replace('.', "-"),
                    what: lang.t(&format!("menu.diff.{}", d.what)).to_string(),
                    ours: shown(&d.ours),
                    wechat: shown(&d.wechat),
                }
            })
            .collect(),
        wechat_rows: rows_of(lang, &theirs, &HashMap::new(), taps),
    }
}

/// WeChat's buttons in our shape, for listing them (ids shown as keys or targets).
fn from_wechat(v: &serde_json::Value) -> Vec<MenuButton> {
    let raw: Vec<wechat::api::menu::Button> = serde_json::from_value(v.clone()).unwrap_or_default();
    fn one(b: &wechat::api::menu::Button) -> MenuButton {
        use wechat::api::menu::Action;
        let mut out = MenuButton {
            name: b.name.clone(),
            kind: b.action.kind().unwrap_or_default().to_string(),
            ..MenuButton::default()
        };
        match &b.action {
            Action::SubMenu(subs) => out.sub_button = subs.iter().map(one).collect(),
            Action::View { url } => out.url = url.clone(),
            Action::Miniprogram {
                url,
                appid,
                pagepath,
            } => {
                out.url = url.clone();
                out.appid = appid.clone();
                out.pagepath = pagepath.clone();
            }
            Action::MediaId { media_id } | Action::ViewLimited { media_id } => {
                out.key = media_id.clone();
            }
            Action::ArticleId { article_id } | Action::ArticleViewLimited { article_id } => {
                out.key = article_id.clone();
            }
            Action::Click { key }
            | Action::ScancodePush { key }
            | Action::ScancodeWaitmsg { key }
            | Action::PicSysphoto { key }
            | Action::PicPhotoOrAlbum { key }
            | Action::PicWeixin { key }
            | Action::LocationSelect { key } => out.key = key.clone(),
            Action::Other { .. } => {}
        }
        out
    }
    raw.iter().map(one).collect()
}

async fn live_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(VIEW)?;
    let shell = shell_with_account(&state, &caller, "menus.live_title", &uri).await?;
    let account = current_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let tags = super::tags(&state.db, caller.merchant_id, account.id).await?;
    let taps = super::taps(&state.db, caller.merchant_id, account.id).await?;
    let (live, refusal) = match super::live(&state, caller.merchant_id, account.id).await {
        Ok(l) => (Some(l), None),
        Err(AppError::Conflict(m) | AppError::Upstream(m)) => (None, Some(caller.lang.render(&m))),
        Err(e) => return Err(e),
    };
    let lang = caller.lang;
    let live = live.unwrap_or(Live {
        has_menu: false,
        same: false,
        menus: vec![],
    });
    page(&LivePage {
        account_name: account.name.clone(),
        refusal,
        has_menu: live.has_menu,
        same: live.same,
        menus: live
            .menus
            .iter()
            .map(|c| comparison_view(lang, c, &tags, &taps))
            .collect(),
        shell,
    })
}

// ---- JSON API ----

/// A button with its taps.
#[derive(Serialize, ToSchema)]
pub struct ButtonOut {
    pub name: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub appid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pagepath: String,
    /// All-time taps (click buttons by key, view buttons by URL); absent for other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taps: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub sub_button: Vec<ButtonOut>,
}

fn button_out(b: &MenuButton, taps: &Taps) -> ButtonOut {
    ButtonOut {
        name: b.name.clone(),
        kind: b.kind.clone(),
        key: b.key.clone(),
        url: b.url.clone(),
        item_id: b.item_id,
        appid: b.appid.clone(),
        pagepath: b.pagepath.clone(),
        taps: model::taps_of(b, taps),
        sub_button: b.sub_button.iter().map(|s| button_out(s, taps)).collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct MenuOut {
    pub id: i64,
    pub account_id: i64,
    /// `default` or `personalized`.
    #[schema(example = "default")]
    pub kind: String,
    /// A personalized menu's tag (our id) and its name.
    pub tag_id: Option<i64>,
    pub tag_name: Option<String>,
    pub button: Vec<ButtonOut>,
    /// WeChat has a version of this menu.
    pub published: bool,
    /// WeChat has exactly these buttons.
    pub up_to_date: bool,
    pub published_at: Option<String>,
    /// WeChat's id of a published personalized menu.
    pub wx_menuid: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MenuList {
    pub items: Vec<MenuOut>,
}

async fn out_of(state: &AppState, caller: &Caller, m: &MenuRow) -> Result<MenuOut, AppError> {
    let db = &state.db;
    let tz = crate::merchants::timezone(db, caller.merchant_id).await?;
    let tags = super::tags(db, caller.merchant_id, m.account_id).await?;
    let taps = super::taps(db, caller.merchant_id, m.account_id).await?;
    Ok(menu_out(m, &tags, &taps, tz))
}

fn menu_out(m: &MenuRow, tags: &[(i64, i64, String)], taps: &Taps, tz: chrono_tz::Tz) -> MenuOut {
    MenuOut {
        id: m.id,
        account_id: m.account_id,
        kind: if m.is_default() {
            "default".into()
        } else {
            "personalized".into()
        },
        tag_id: m.tag_id,
        tag_name: tag_name(tags, m.tag_id),
        button: m.tree().iter().map(|b| button_out(b, taps)).collect(),
        published: m.published.is_some(),
        up_to_date: m.up_to_date(),
        published_at: m.published_at.map(|t| rfc3339(t, tz)),
        wx_menuid: m.wx_menuid.clone(),
        created_at: rfc3339(m.created_at, tz),
        updated_at: rfc3339(m.updated_at, tz),
    }
}

/// An account's menus: the default one first, then personalized ones, each button with its
/// taps.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/menus", tag = "menus",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = MenuList), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<MenuList>, AppError> {
    caller.require(VIEW)?;
    let db = &state.db;
    let account = super::account(db, caller.merchant_id, account_id).await?;
    let tz = crate::merchants::timezone(db, caller.merchant_id).await?;
    let tags = super::tags(db, caller.merchant_id, account.id).await?;
    let taps = super::taps(db, caller.merchant_id, account.id).await?;
    let items = super::list(db, caller.merchant_id, account.id)
        .await?
        .iter()
        .map(|m| menu_out(m, &tags, &taps, tz))
        .collect();
    Ok(Json(MenuList { items }))
}

/// Creates the default menu (no `tag_id`) or a personalized menu for a tag. Buttons are
/// checked against WeChat's limits (422 with the field, e.g. `button[0].name`); nothing goes
/// to WeChat until it is published.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/menus", tag = "menus",
    params(("account_id" = i64, Path)), request_body = MenuInput,
    responses((status = 201, body = MenuOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<MenuInput>,
) -> Result<(StatusCode, Json<MenuOut>), AppError> {
    caller.require(MANAGE)?;
    let m = super::create(
        &state.db,
        caller.merchant_id,
        account_id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, &m).await?),
    ))
}

/// One menu with its taps.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/menus/{menu_id}", tag = "menus",
    params(("account_id" = i64, Path), ("menu_id" = i64, Path)),
    responses((status = 200, body = MenuOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, menu_id)): Path<(i64, i64)>,
) -> Result<Json<MenuOut>, AppError> {
    caller.require(VIEW)?;
    let m = super::get(&state.db, caller.merchant_id, account_id, menu_id).await?;
    Ok(Json(out_of(&state, &caller, &m).await?))
}

/// Replaces a menu's buttons (WeChat keeps the published ones until the next publish).
#[utoipa::path(put, path = "/api/v1/accounts/{account_id}/menus/{menu_id}", tag = "menus",
    params(("account_id" = i64, Path), ("menu_id" = i64, Path)), request_body = MenuEdit,
    responses((status = 200, body = MenuOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, menu_id)): Path<(i64, i64)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<MenuEdit>,
) -> Result<Json<MenuOut>, AppError> {
    caller.require(MANAGE)?;
    let m = super::update(
        &state.db,
        caller.merchant_id,
        account_id,
        menu_id,
        &input.button,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, &m).await?))
}

/// Deletes a menu, at WeChat first when published. The default menu only goes when no
/// personalized menu is left (409 otherwise).
#[utoipa::path(delete, path = "/api/v1/accounts/{account_id}/menus/{menu_id}", tag = "menus",
    params(("account_id" = i64, Path), ("menu_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, menu_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    caller.require(MANAGE)?;
    super::delete(&state, caller.merchant_id, account_id, menu_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes a menu to WeChat (`menu/create`, or `addconditional` for a personalized one).
/// WeChat's refusal comes back as 409 with the errcode explained in the caller's language
/// (48001: the account has no menu rights, e.g. an unverified subscription account).
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/menus/{menu_id}/publish", tag = "menus",
    params(("account_id" = i64, Path), ("menu_id" = i64, Path)),
    responses((status = 200, body = MenuOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope),
        (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_publish(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, menu_id)): Path<(i64, i64)>,
) -> Result<Json<MenuOut>, AppError> {
    caller.require(MANAGE)?;
    let m = super::publish(&state, caller.merchant_id, account_id, menu_id).await?;
    Ok(Json(out_of(&state, &caller, &m).await?))
}

/// Pulls the menus WeChat serves (`menu/get`) and compares them with ours: same, or where
/// they differ.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/menus/live", tag = "menus",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = Live), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_live(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<Live>, AppError> {
    caller.require(VIEW)?;
    Ok(Json(
        super::live(&state, caller.merchant_id, account_id).await?,
    ))
}
