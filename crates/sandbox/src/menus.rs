//! Custom menus, as WeChat serves them:
//!
//! - `POST /cgi-bin/menu/create {button: […]}`: 1–3 buttons (40016), each either a parent of
//!   1–5 sub-buttons (40023; no deeper, 40022) or an action. Names: top 1–16 bytes (40018),
//!   sub 1–60 bytes (40025). Types (40017 / 40024 otherwise) and what each needs: `click`,
//!   `scancode_push`, `scancode_waitmsg`, `pic_sysphoto`, `pic_photo_or_album`, `pic_weixin`,
//!   `location_select` a key of 1–128 bytes (40019 / 40026); `view` a url of 1–1,024 bytes
//!   (40020 / 40027) on http(s) with a host (40055 / 40054); `miniprogram` such a url, an
//!   `appid` (40166) and a `pagepath` (40165); `media_id` and `view_limited` a `media_id`
//!   (40007); `article_id` and `article_view_limited` an `article_id` (53600).
//! - `GET /cgi-bin/menu/get` → `{menu: {button, menuid?}, conditionalmenu?: [{button,
//!   matchrule, menuid}]}`, every button with its `sub_button` list; 46003 without a menu.
//! - `GET /cgi-bin/menu/delete`: the default menu and every conditional menu go.
//! - `POST /cgi-bin/menu/addconditional {button, matchrule}` → `{menuid}` (a string): needs a
//!   default menu (65303) and a rule (65304); since 2021 only `tag_id` and
//!   `client_platform_type` may be used (65320 for sex, country, province, city, language);
//!   all conditional menus together may link to at most 3 domains (65316).
//! - `POST /cgi-bin/menu/delconditional {menuid}`: 65301 when it is no conditional menu.
//! - `POST /cgi-bin/menu/trymatch {user_id}` → `{button}`: the menu that follower sees — the
//!   newest conditional menu whose `tag_id` is the follower's last applied tag, else the
//!   default. 65303 without a default menu, 65302 for an unknown user, 65315 for one who
//!   does not follow.
//! - `GET /cgi-bin/get_current_selfmenu_info` → `{is_menu_open, selfmenu_info: {button}}` in
//!   its own shape (`sub_button: {list: […]}`), open to every account.
//!
//! Simulated followers have no phone, so rules on `client_platform_type` never match them.
//! The whole menu setup of an app is one `menu` document, so that every change (including
//! "a conditional menu needs the default one") is one compare-and-swap. Media, article and
//! mini program references are checked for presence only: the sandbox keeps no record of
//! which mini programs an account links.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Sandbox;
use crate::caller::ApiCaller;
use crate::error::{self, WxError, WxResult};
use crate::registry::StoreError;
use crate::users::{request_body, stored_follower};

const KIND: &str = "menu";
const KEY: &str = "state";

pub const MAX_BUTTONS: usize = 3;
pub const MAX_SUB_BUTTONS: usize = 5;
pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_URL_BYTES: usize = 1024;
/// Distinct link domains across all conditional menus of an account.
pub const MAX_CONDITIONAL_DOMAINS: usize = 3;
/// Menu ids are large numbers in WeChat; the sandbox counts up from here.
const FIRST_MENUID: i64 = 100_000_001;

/// Matchrule fields WeChat knows; the private ones are refused since 2021.
const RULE_FIELDS: [&str; 7] = [
    "tag_id",
    "client_platform_type",
    "sex",
    "country",
    "province",
    "city",
    "language",
];
const PRIVATE_RULE_FIELDS: [&str; 5] = ["sex", "country", "province", "city", "language"];

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/menu/create", post(create))
        .route("/cgi-bin/menu/get", get(get_menu))
        .route("/cgi-bin/menu/delete", get(delete))
        .route("/cgi-bin/menu/addconditional", post(add_conditional))
        .route("/cgi-bin/menu/delconditional", post(del_conditional))
        .route("/cgi-bin/menu/trymatch", post(try_match))
        .route("/cgi-bin/get_current_selfmenu_info", get(selfmenu_info))
}

/// A menu button as WeChat takes and gives it: a parent (`name` and `sub_button`) or an
/// action (`type`, `name` and what that type needs).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Button {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    /// Always present in WeChat's answers, empty for actions.
    #[serde(default)]
    #[schema(no_recursion)]
    pub sub_button: Vec<Button>,
}

/// The menu a follower sees, for the phone simulator.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct MenuView {
    pub button: Vec<Button>,
    /// The conditional menu that matched; `None` for the default menu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menuid: Option<i64>,
}

/// Everything an app has published: one document.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct MenuState {
    #[serde(default)]
    default: Option<PublishedMenu>,
    /// Oldest first; matching goes newest first.
    #[serde(default)]
    conditional: Vec<ConditionalMenu>,
    /// Menu ids are never reused, even after `menu/delete`.
    #[serde(default)]
    last_menuid: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct PublishedMenu {
    menuid: i64,
    button: Vec<Button>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct ConditionalMenu {
    menuid: i64,
    button: Vec<Button>,
    matchrule: Map<String, Value>,
}

impl MenuState {
    fn next_menuid(&mut self) -> i64 {
        self.last_menuid = self.last_menuid.max(FIRST_MENUID - 1) + 1;
        self.last_menuid
    }
}

async fn load(sb: &Sandbox, app_id: &str) -> Result<MenuState, StoreError> {
    Ok(sb.docs.get(app_id, KIND, KEY).await?.unwrap_or_default())
}

/// Changes the app's menus in one compare-and-swap.
async fn change<R>(
    sb: &Sandbox,
    app_id: &str,
    mut f: impl FnMut(&mut MenuState) -> Result<R, WxError>,
) -> Result<R, WxError> {
    sb.docs
        .update(app_id, KIND, KEY, |state: Option<MenuState>| {
            let mut state = state.unwrap_or_default();
            let r = f(&mut state)?;
            Ok((state, r))
        })
        .await?
}

// ---------------------------------------------------------------------------------------------
// Checking buttons.

/// The error codes of one menu level: top buttons and sub-buttons have their own.
struct Level {
    max_name_bytes: usize,
    bad_type: (i64, &'static str),
    bad_name: (i64, &'static str),
    bad_key: (i64, &'static str),
    bad_url: (i64, &'static str),
    bad_domain: (i64, &'static str),
}

const TOP: Level = Level {
    max_name_bytes: 16,
    bad_type: (40017, "invalid button type"),
    bad_name: (40018, "invalid button name size"),
    bad_key: (40019, "invalid button key size"),
    bad_url: (40020, "invalid button url size"),
    bad_domain: (40055, "invalid button url domain"),
};

const SUB: Level = Level {
    max_name_bytes: 60,
    bad_type: (40024, "invalid sub button type"),
    bad_name: (40025, "invalid sub button name size"),
    bad_key: (40026, "invalid sub button key size"),
    bad_url: (40027, "invalid sub button url size"),
    bad_domain: (40054, "invalid sub button url domain"),
};

fn wx((code, msg): (i64, &'static str)) -> WxError {
    WxError::new(code, msg)
}

/// What a button type needs besides its name.
enum Needs {
    Key,
    Url,
    MediaId,
    ArticleId,
    MiniProgram,
}

fn needs_of(kind: &str) -> Option<Needs> {
    Some(match kind {
        "click" | "scancode_push" | "scancode_waitmsg" | "pic_sysphoto" | "pic_photo_or_album"
        | "pic_weixin" | "location_select" => Needs::Key,
        "view" => Needs::Url,
        "media_id" | "view_limited" => Needs::MediaId,
        "article_id" | "article_view_limited" => Needs::ArticleId,
        "miniprogram" => Needs::MiniProgram,
        _ => return None,
    })
}

/// The menu as WeChat stores it: checked, each button keeping only what its type uses.
fn checked_menu(buttons: &[Button]) -> Result<Vec<Button>, WxError> {
    if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
        return Err(WxError::new(40016, "invalid button size"));
    }
    buttons.iter().map(checked_top_button).collect()
}

fn checked_top_button(b: &Button) -> Result<Button, WxError> {
    if b.sub_button.is_empty() {
        return checked_action(b, &TOP);
    }
    check_name(&b.name, &TOP)?;
    if b.sub_button.len() > MAX_SUB_BUTTONS {
        return Err(WxError::new(40023, "invalid sub button size"));
    }
    let subs = b
        .sub_button
        .iter()
        .map(|s| {
            if !s.sub_button.is_empty() {
                return Err(WxError::new(40022, "invalid sub_menu level"));
            }
            checked_action(s, &SUB)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Button {
        name: b.name.clone(),
        sub_button: subs,
        ..Button::default()
    })
}

fn check_name(name: &str, level: &Level) -> Result<(), WxError> {
    if name.is_empty() || name.len() > level.max_name_bytes {
        return Err(wx(level.bad_name));
    }
    Ok(())
}

fn present(field: &Option<String>) -> Option<String> {
    field.as_ref().filter(|v| !v.is_empty()).cloned()
}

fn checked_action(b: &Button, level: &Level) -> Result<Button, WxError> {
    check_name(&b.name, level)?;
    let kind = b.kind.as_deref().unwrap_or_default();
    let needs = needs_of(kind).ok_or_else(|| wx(level.bad_type))?;
    let mut out = Button {
        kind: Some(kind.to_string()),
        name: b.name.clone(),
        ..Button::default()
    };
    match needs {
        Needs::Key => out.key = Some(checked_key(&b.key, level)?),
        Needs::Url => out.url = Some(checked_url(&b.url, level)?),
        Needs::MediaId => {
            out.media_id =
                Some(present(&b.media_id).ok_or_else(|| WxError::new(40007, "invalid media_id"))?);
        }
        Needs::ArticleId => {
            out.article_id = Some(
                present(&b.article_id).ok_or_else(|| WxError::new(53600, "invalid article_id"))?,
            );
        }
        Needs::MiniProgram => {
            out.url = Some(checked_url(&b.url, level)?);
            out.appid =
                Some(present(&b.appid).ok_or_else(|| WxError::new(40166, "invalid weapp appid"))?);
            out.pagepath = Some(
                present(&b.pagepath)
                    .ok_or_else(|| WxError::new(40165, "invalid weapp pagepath"))?,
            );
        }
    }
    Ok(out)
}

fn checked_key(key: &Option<String>, level: &Level) -> Result<String, WxError> {
    present(key)
        .filter(|k| k.len() <= MAX_KEY_BYTES)
        .ok_or_else(|| wx(level.bad_key))
}

fn checked_url(url: &Option<String>, level: &Level) -> Result<String, WxError> {
    let url = present(url)
        .filter(|u| u.len() <= MAX_URL_BYTES)
        .ok_or_else(|| wx(level.bad_url))?;
    if url_host(&url).is_none() {
        return Err(wx(level.bad_domain));
    }
    Ok(url)
}

/// The host of an http(s) URL, lower-cased; `None` when the URL has no usable host.
pub fn url_host(url: &str) -> Option<String> {
    let rest = ["https://", "http://"].iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
    })?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_and_port = authority.rsplit('@').next()?;
    let host = host_and_port.split(':').next()?;
    let usable = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || "-._".contains(c));
    usable.then(|| host.to_ascii_lowercase())
}

fn link_domains<'a>(buttons: impl IntoIterator<Item = &'a Button>) -> BTreeSet<String> {
    let mut domains = BTreeSet::new();
    for b in buttons {
        domains.extend(b.url.as_deref().and_then(url_host));
        domains.extend(link_domains(&b.sub_button));
    }
    domains
}

/// A rule value as text: WeChat's examples send strings, clients often send numbers.
fn rule_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The fields of a matchrule that are set, as strings.
fn checked_rule(rule: Option<&Map<String, Value>>) -> Result<Map<String, Value>, WxError> {
    let set: Map<String, Value> = RULE_FIELDS
        .iter()
        .filter_map(|field| {
            let text = rule?.get(*field).and_then(rule_text)?;
            Some((field.to_string(), Value::String(text)))
        })
        .collect();
    if set.is_empty() {
        return Err(WxError::new(65304, "match rule empty"));
    }
    if PRIVATE_RULE_FIELDS.iter().any(|f| set.contains_key(*f)) {
        return Err(WxError::new(65320, "match rule violates privacy"));
    }
    Ok(set)
}

// ---------------------------------------------------------------------------------------------
// Matching.

/// Whether a rule picks a follower whose last applied tag is `last_tag`.
fn rule_matches(rule: &Map<String, Value>, last_tag: Option<i64>) -> bool {
    let voided = PRIVATE_RULE_FIELDS.iter().any(|f| rule.contains_key(*f));
    // A simulated follower has no phone, so no rule on the phone's system picks them.
    let needs_platform = rule.contains_key("client_platform_type");
    let tag = rule.get("tag_id").and_then(rule_text);
    match (voided || needs_platform, tag, last_tag) {
        (false, Some(tag), Some(last)) => tag == last.to_string(),
        _ => false,
    }
}

/// The menu a follower with `last_tag` sees: the newest matching conditional menu, else the
/// default one.
fn matching_menu(state: &MenuState, last_tag: Option<i64>) -> Option<MenuView> {
    let default = state.default.as_ref()?;
    let conditional = state
        .conditional
        .iter()
        .rev()
        .find(|c| rule_matches(&c.matchrule, last_tag));
    Some(match conditional {
        Some(c) => MenuView {
            button: c.button.clone(),
            menuid: Some(c.menuid),
        },
        None => MenuView {
            button: default.button.clone(),
            menuid: None,
        },
    })
}

/// The buttons (with sub-buttons) `openid` sees in the chat with `app_id`, conditional menus
/// respected; `None` when the app has published no menu.
pub async fn menu_for(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
) -> Result<Option<MenuView>, StoreError> {
    let state = load(sb, app_id).await?;
    if state.default.is_none() {
        return Ok(None);
    }
    let last_tag = crate::followers::follower(sb, app_id, openid)
        .await?
        .and_then(|f| f.tagid_list.last().copied());
    Ok(matching_menu(&state, last_tag))
}

// ---------------------------------------------------------------------------------------------
// Handlers.

#[derive(Deserialize)]
struct MenuBody {
    #[serde(default)]
    button: Vec<Button>,
    #[serde(default)]
    matchrule: Option<Map<String, Value>>,
}

fn no_default_menu() -> WxError {
    WxError::new(65303, "there is no selfmenu, please create selfmenu first")
}

/// `POST /cgi-bin/menu/create`. Conditional menus stay; only `menu/delete` removes them.
async fn create(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: MenuBody = request_body(&body)?;
    let button = checked_menu(&req.button)?;
    change(&sb, &caller.app.app_id, |state| {
        let menuid = state.next_menuid();
        state.default = Some(PublishedMenu {
            menuid,
            button: button.clone(),
        });
        Ok(())
    })
    .await?;
    Ok(error::ok())
}

/// Publishes `buttons` as the app's default menu without a token, checked as `menu/create`
/// checks them (demo data).
pub async fn create_for_app(sb: &Sandbox, app_id: &str, buttons: &[Button]) -> Result<(), WxError> {
    let button = checked_menu(buttons)?;
    change(sb, app_id, |state| {
        let menuid = state.next_menuid();
        state.default = Some(PublishedMenu {
            menuid,
            button: button.clone(),
        });
        Ok(())
    })
    .await
}

/// `GET /cgi-bin/menu/get`.
async fn get_menu(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let state = load(&sb, &caller.app.app_id).await?;
    let default = state
        .default
        .as_ref()
        .ok_or_else(|| WxError::new(46003, "menu no exist"))?;
    let mut menu = json!({ "button": default.button });
    let mut out = Map::new();
    if !state.conditional.is_empty() {
        // The default menu shows its id only next to conditional menus.
        menu["menuid"] = json!(default.menuid);
        let conditional: Vec<Value> = state
            .conditional
            .iter()
            .map(|c| json!({ "button": c.button, "matchrule": c.matchrule, "menuid": c.menuid }))
            .collect();
        out.insert("conditionalmenu".into(), json!(conditional));
    }
    out.insert("menu".into(), menu);
    Ok(Json(Value::Object(out)).into_response())
}

/// `GET /cgi-bin/menu/delete`: succeeds whether or not there was a menu.
async fn delete(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    change(&sb, &caller.app.app_id, |state| {
        state.default = None;
        state.conditional.clear();
        Ok(())
    })
    .await?;
    Ok(error::ok())
}

/// `POST /cgi-bin/menu/addconditional`.
async fn add_conditional(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: MenuBody = request_body(&body)?;
    let matchrule = checked_rule(req.matchrule.as_ref())?;
    let button = checked_menu(&req.button)?;
    let menuid = change(&sb, &caller.app.app_id, |state| {
        if state.default.is_none() {
            return Err(no_default_menu());
        }
        let all = state
            .conditional
            .iter()
            .flat_map(|c| &c.button)
            .chain(&button);
        if link_domains(all).len() > MAX_CONDITIONAL_DOMAINS {
            return Err(WxError::new(65316, "domain count reach limit"));
        }
        let menuid = state.next_menuid();
        state.conditional.push(ConditionalMenu {
            menuid,
            button: button.clone(),
            matchrule: matchrule.clone(),
        });
        Ok(menuid)
    })
    .await?;
    Ok(Json(json!({ "menuid": menuid.to_string() })).into_response())
}

#[derive(Deserialize)]
struct DelConditional {
    #[serde(default)]
    menuid: Value,
}

/// `POST /cgi-bin/menu/delconditional`.
async fn del_conditional(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: DelConditional = request_body(&body)?;
    let not_conditional = || WxError::new(65301, "this menu is not conditionalmenu");
    let menuid: i64 = rule_text(&req.menuid)
        .and_then(|t| t.parse().ok())
        .ok_or_else(not_conditional)?;
    change(&sb, &caller.app.app_id, |state| {
        let before = state.conditional.len();
        state.conditional.retain(|c| c.menuid != menuid);
        if state.conditional.len() == before {
            return Err(not_conditional());
        }
        Ok(())
    })
    .await?;
    Ok(error::ok())
}

#[derive(Deserialize)]
struct TryMatch {
    #[serde(default)]
    user_id: String,
}

/// `POST /cgi-bin/menu/trymatch`. Followers are found by openid; the sandbox knows no
/// WeChat ids.
async fn try_match(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: TryMatch = request_body(&body)?;
    let app_id = &caller.app.app_id;
    let state = load(&sb, app_id).await?;
    if state.default.is_none() {
        return Err(no_default_menu());
    }
    let follower = stored_follower(&sb, app_id, &req.user_id)
        .await?
        .ok_or_else(|| WxError::new(65302, "no such user"))?
        .follower;
    if !follower.subscribe {
        return Err(WxError::new(65315, "not fans"));
    }
    let view =
        matching_menu(&state, follower.tagid_list.last().copied()).ok_or_else(no_default_menu)?;
    Ok(Json(json!({ "button": view.button })).into_response())
}

/// A button in `get_current_selfmenu_info`'s shape: sub-buttons under `{list: […]}`, and
/// actions without a `sub_button` field.
fn selfmenu_button(b: &Button) -> Value {
    if b.kind.is_none() {
        let list: Vec<Value> = b.sub_button.iter().map(selfmenu_button).collect();
        return json!({ "name": b.name, "sub_button": { "list": list } });
    }
    let mut action = json!(Button {
        sub_button: Vec::new(),
        ..b.clone()
    });
    if let Some(fields) = action.as_object_mut() {
        fields.remove("sub_button");
    }
    action
}

/// `GET /cgi-bin/get_current_selfmenu_info`.
async fn selfmenu_info(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let state = load(&sb, &caller.app.app_id).await?;
    let buttons: Vec<Value> = state
        .default
        .as_ref()
        .map(|m| m.button.iter().map(selfmenu_button).collect())
        .unwrap_or_default();
    let open = i32::from(state.default.is_some());
    Ok(
        Json(json!({ "is_menu_open": open, "selfmenu_info": { "button": buttons } }))
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_from_http_urls_only() {
        assert_eq!(
            url_host("https://Shop.Example.com/a?b#c").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(
            url_host("http://u:p@example.com:8080").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            url_host("HTTP://example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(url_host("ftp://example.com"), None);
        assert_eq!(url_host("https://"), None);
        assert_eq!(url_host("https://exa mple.com/"), None);
        assert_eq!(url_host("javascript:alert(1)"), None);
    }

    #[test]
    fn a_rule_matches_the_last_applied_tag_only() {
        let rule = checked_rule(Some(
            &json!({"tag_id": 101})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ))
        .expect("a tag rule");
        assert_eq!(rule.get("tag_id"), Some(&json!("101")));
        assert!(rule_matches(&rule, Some(101)));
        assert!(!rule_matches(&rule, Some(102)));
        assert!(!rule_matches(&rule, None));
        let platform =
            checked_rule(json!({"tag_id": "101", "client_platform_type": "2"}).as_object())
                .expect("platform rule");
        assert!(!rule_matches(&platform, Some(101)));
    }

    #[test]
    fn rules_must_say_something_and_nothing_private() {
        let code = |v: Value| {
            checked_rule(v.as_object())
                .map(|_| ())
                .map_err(|e| e.errcode)
        };
        assert_eq!(code(json!({})), Err(65304));
        assert_eq!(code(json!({"tag_id": ""})), Err(65304));
        assert_eq!(code(json!({"group_id": "2"})), Err(65304));
        assert_eq!(code(json!({"tag_id": "2", "sex": "1"})), Err(65320));
        assert_eq!(code(json!({"language": "zh_CN"})), Err(65320));
        assert_eq!(checked_rule(None).map_err(|e| e.errcode).err(), Some(65304));
    }

    #[test]
    fn menu_ids_count_up_and_are_not_reused() {
        let mut state = MenuState::default();
        assert_eq!(state.next_menuid(), FIRST_MENUID);
        assert_eq!(state.next_menuid(), FIRST_MENUID + 1);
    }
}
