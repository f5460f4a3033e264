//! Custom menus (自定义菜单): `/cgi-bin/menu/create`, `get`, `delete`, `addconditional`,
//! `delconditional` and `trymatch`.
//!
//! A menu has 1–3 buttons; a button is either a sub-menu of 1–5 buttons (no deeper) or an
//! action. Unverified subscription accounts have no menu rights (48001); conditional menus
//! need a verified account and a default menu (65303), and since 2021 match only on `tag_id`
//! and `client_platform_type` (65320 for sex, region or language).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::wire::{opt_string_or_number, string_or_number};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const CREATE_PATH: &str = "/cgi-bin/menu/create";
pub const GET_PATH: &str = "/cgi-bin/menu/get";
pub const DELETE_PATH: &str = "/cgi-bin/menu/delete";
pub const ADD_CONDITIONAL_PATH: &str = "/cgi-bin/menu/addconditional";
pub const DEL_CONDITIONAL_PATH: &str = "/cgi-bin/menu/delconditional";
pub const TRY_MATCH_PATH: &str = "/cgi-bin/menu/trymatch";

/// WeChat's answer to `menu/get` when the account has no menu.
pub const NO_MENU: i64 = 46003;

/// One menu button: its label and what it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawButton", into = "RawButton")]
pub struct Button {
    pub name: String,
    pub action: Action,
}

/// What a button does. Key buttons send their `key` to the callback in the event the
/// follower's tap causes (`CLICK`, `scancode_push`, `pic_sysphoto`, `location_select`, …).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A sub-menu of 1–5 buttons.
    SubMenu(Vec<Button>),
    Click {
        key: String,
    },
    View {
        url: String,
    },
    ScancodePush {
        key: String,
    },
    ScancodeWaitmsg {
        key: String,
    },
    PicSysphoto {
        key: String,
    },
    PicPhotoOrAlbum {
        key: String,
    },
    PicWeixin {
        key: String,
    },
    LocationSelect {
        key: String,
    },
    /// Sends a permanent material (not a text).
    MediaId {
        media_id: String,
    },
    /// Opens a permanent news material.
    ViewLimited {
        media_id: String,
    },
    /// Sends a published article.
    ArticleId {
        article_id: String,
    },
    /// Opens a published article.
    ArticleViewLimited {
        article_id: String,
    },
    /// Opens a mini program page; `url` is for clients without mini programs.
    Miniprogram {
        url: String,
        appid: String,
        pagepath: String,
    },
    /// A type this crate does not know (made in the MP console, say), kept as WeChat gave it.
    Other {
        kind: String,
        fields: Map<String, Value>,
    },
}

impl Button {
    pub fn sub_menu(name: impl Into<String>, buttons: Vec<Button>) -> Button {
        Button {
            name: name.into(),
            action: Action::SubMenu(buttons),
        }
    }

    pub fn click(name: impl Into<String>, key: impl Into<String>) -> Button {
        Button {
            name: name.into(),
            action: Action::Click { key: key.into() },
        }
    }

    pub fn view(name: impl Into<String>, url: impl Into<String>) -> Button {
        Button {
            name: name.into(),
            action: Action::View { url: url.into() },
        }
    }

    pub fn new(name: impl Into<String>, action: Action) -> Button {
        Button {
            name: name.into(),
            action,
        }
    }
}

impl Action {
    /// WeChat's `type`; `None` for a sub-menu.
    pub fn kind(&self) -> Option<&str> {
        Some(match self {
            Action::SubMenu(_) => return None,
            Action::Click { .. } => "click",
            Action::View { .. } => "view",
            Action::ScancodePush { .. } => "scancode_push",
            Action::ScancodeWaitmsg { .. } => "scancode_waitmsg",
            Action::PicSysphoto { .. } => "pic_sysphoto",
            Action::PicPhotoOrAlbum { .. } => "pic_photo_or_album",
            Action::PicWeixin { .. } => "pic_weixin",
            Action::LocationSelect { .. } => "location_select",
            Action::MediaId { .. } => "media_id",
            Action::ViewLimited { .. } => "view_limited",
            Action::ArticleId { .. } => "article_id",
            Action::ArticleViewLimited { .. } => "article_view_limited",
            Action::Miniprogram { .. } => "miniprogram",
            Action::Other { kind, .. } => kind,
        })
    }
}

/// A button as WeChat's JSON has it: one flat object whose `type` says which fields count.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct RawButton {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pagepath: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    article_id: Option<String>,
    /// WeChat's answers give every button one, empty for actions; requests give it to
    /// sub-menus only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub_button: Option<Vec<RawButton>>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

impl From<RawButton> for Button {
    fn from(raw: RawButton) -> Button {
        let RawButton {
            kind,
            name,
            key,
            url,
            media_id,
            appid,
            pagepath,
            article_id,
            sub_button,
            other,
        } = raw;
        let the_key = || key.clone().unwrap_or_default();
        let action = match kind.as_deref() {
            None => Action::SubMenu(
                sub_button
                    .unwrap_or_default()
                    .into_iter()
                    .map(Button::from)
                    .collect(),
            ),
            Some("click") => Action::Click { key: the_key() },
            Some("view") => Action::View {
                url: url.unwrap_or_default(),
            },
            Some("scancode_push") => Action::ScancodePush { key: the_key() },
            Some("scancode_waitmsg") => Action::ScancodeWaitmsg { key: the_key() },
            Some("pic_sysphoto") => Action::PicSysphoto { key: the_key() },
            Some("pic_photo_or_album") => Action::PicPhotoOrAlbum { key: the_key() },
            Some("pic_weixin") => Action::PicWeixin { key: the_key() },
            Some("location_select") => Action::LocationSelect { key: the_key() },
            Some("media_id") => Action::MediaId {
                media_id: media_id.unwrap_or_default(),
            },
            Some("view_limited") => Action::ViewLimited {
                media_id: media_id.unwrap_or_default(),
            },
            Some("article_id") => Action::ArticleId {
                article_id: article_id.unwrap_or_default(),
            },
            Some("article_view_limited") => Action::ArticleViewLimited {
                article_id: article_id.unwrap_or_default(),
            },
            Some("miniprogram") => Action::Miniprogram {
                url: url.unwrap_or_default(),
                appid: appid.unwrap_or_default(),
                pagepath: pagepath.unwrap_or_default(),
            },
            Some(other_kind) => {
                let mut fields = other;
                for (k, v) in [
                    ("key", key),
                    ("url", url),
                    ("media_id", media_id),
                    ("appid", appid),
                    ("pagepath", pagepath),
                    ("article_id", article_id),
                ] {
                    if let Some(v) = v {
                        fields.insert(k.to_string(), Value::String(v));
                    }
                }
                Action::Other {
                    kind: other_kind.to_string(),
                    fields,
                }
            }
        };
        Button { name, action }
    }
}

impl From<Button> for RawButton {
    fn from(b: Button) -> RawButton {
        let mut raw = RawButton {
            kind: b.action.kind().map(str::to_string),
            name: b.name,
            ..RawButton::default()
        };
        match b.action {
            Action::SubMenu(buttons) => {
                raw.sub_button = Some(buttons.into_iter().map(RawButton::from).collect());
            }
            Action::Click { key }
            | Action::ScancodePush { key }
            | Action::ScancodeWaitmsg { key }
            | Action::PicSysphoto { key }
            | Action::PicPhotoOrAlbum { key }
            | Action::PicWeixin { key }
            | Action::LocationSelect { key } => raw.key = Some(key),
            Action::View { url } => raw.url = Some(url),
            Action::MediaId { media_id } | Action::ViewLimited { media_id } => {
                raw.media_id = Some(media_id);
            }
            Action::ArticleId { article_id } | Action::ArticleViewLimited { article_id } => {
                raw.article_id = Some(article_id);
            }
            Action::Miniprogram {
                url,
                appid,
                pagepath,
            } => {
                raw.url = Some(url);
                raw.appid = Some(appid);
                raw.pagepath = Some(pagepath);
            }
            Action::Other { fields, .. } => raw.other = fields,
        }
        raw
    }
}

/// A menu: `{"button": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Menu {
    pub button: Vec<Button>,
}

/// Who sees a conditional menu. WeChat's examples send the values as strings; its answers
/// sometimes carry numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchRule {
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub tag_id: Option<String>,
    /// `1` iOS, `2` Android, `3` others.
    #[serde(
        default,
        deserialize_with = "opt_string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_platform_type: Option<String>,
    /// Rule fields WeChat no longer accepts (`sex`, `country`, `province`, `city`,
    /// `language`, `group_id`), as older menus still show them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl MatchRule {
    pub fn tag(tag_id: i64) -> MatchRule {
        MatchRule {
            tag_id: Some(tag_id.to_string()),
            ..MatchRule::default()
        }
    }
}

/// `menu/get`: the default menu and the conditional ones.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Menus {
    pub menu: DefaultMenu,
    #[serde(default)]
    pub conditionalmenu: Vec<ConditionalMenu>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DefaultMenu {
    pub button: Vec<Button>,
    /// Shown only when there are conditional menus.
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub menuid: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ConditionalMenu {
    pub button: Vec<Button>,
    #[serde(default)]
    pub matchrule: MatchRule,
    #[serde(deserialize_with = "string_or_number")]
    pub menuid: String,
}

/// `POST /cgi-bin/menu/create`: replaces the default menu (conditional menus stay).
pub async fn create(tokens: &TokenCache, menu: &Menu) -> Result<(), ApiError> {
    tokens
        .post::<_, Done>("menu.create", CREATE_PATH, menu)
        .await
        .map(|_| ())
}

/// `GET /cgi-bin/menu/get`; `None` when the account has no menu (46003).
pub async fn get(tokens: &TokenCache) -> Result<Option<Menus>, ApiError> {
    match tokens.get::<Menus>("menu.get", GET_PATH, &[]).await {
        Ok(menus) => Ok(Some(menus)),
        Err(e) if e.errcode() == Some(NO_MENU) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /cgi-bin/menu/delete`: the default menu and every conditional menu go.
pub async fn delete(tokens: &TokenCache) -> Result<(), ApiError> {
    tokens
        .get::<Done>("menu.delete", DELETE_PATH, &[])
        .await
        .map(|_| ())
}

#[derive(Serialize)]
struct Conditional<'a> {
    button: &'a [Button],
    matchrule: &'a MatchRule,
}

#[derive(Deserialize)]
struct MenuId {
    #[serde(deserialize_with = "string_or_number")]
    menuid: String,
}

/// `POST /cgi-bin/menu/addconditional` → the new menu's `menuid`.
pub async fn add_conditional(
    tokens: &TokenCache,
    button: &[Button],
    matchrule: &MatchRule,
) -> Result<String, ApiError> {
    let body = Conditional { button, matchrule };
    let answer: MenuId = tokens
        .post("menu.addconditional", ADD_CONDITIONAL_PATH, &body)
        .await?;
    Ok(answer.menuid)
}

/// `POST /cgi-bin/menu/delconditional {menuid}`.
pub async fn del_conditional(tokens: &TokenCache, menuid: &str) -> Result<(), ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        menuid: &'a str,
    }
    tokens
        .post::<_, Done>(
            "menu.delconditional",
            DEL_CONDITIONAL_PATH,
            &Body { menuid },
        )
        .await
        .map(|_| ())
}

/// `POST /cgi-bin/menu/trymatch {user_id}` (an openid or a WeChat ID) → the buttons that
/// follower sees.
pub async fn try_match(tokens: &TokenCache, user_id: &str) -> Result<Vec<Button>, ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        user_id: &'a str,
    }
    #[derive(Deserialize)]
    struct Answer {
        button: Vec<Button>,
    }
    let answer: Answer = tokens
        .post("menu.trymatch", TRY_MATCH_PATH, &Body { user_id })
        .await?;
    Ok(answer.button)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key_button(name: &str, action: fn(String) -> Action, key: &str) -> Button {
        Button::new(name, action(key.to_string()))
    }

    #[test]
    fn the_create_body_matches_wechats_first_example() {
        let menu = Menu {
            button: vec![
                Button::click("今日歌曲", "V1001_TODAY_MUSIC"),
                Button::sub_menu(
                    "菜单",
                    vec![
                        Button::view("搜索", "http://www.soso.com/"),
                        Button::new(
                            "wxa",
                            Action::Miniprogram {
                                url: "http://mp.weixin.qq.com".into(),
                                appid: "wx286b93c14bbf93aa".into(),
                                pagepath: "pages/lunar/index".into(),
                            },
                        ),
                        Button::click("赞一下我们", "V1001_GOOD"),
                    ],
                ),
            ],
        };
        assert_eq!(
            serde_json::to_value(&menu).expect("json"),
            json!({"button": [
                {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
                {"name": "菜单", "sub_button": [
                    {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                    {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
                     "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"},
                    {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"}]}]})
        );
        // Real UTF-8, never \u escapes (WeChat shows them literally or refuses them).
        assert!(
            serde_json::to_string(&menu)
                .expect("json")
                .contains("今日歌曲")
        );
    }

    #[test]
    fn every_button_type_is_written_as_wechats_second_example() {
        let menu = Menu {
            button: vec![
                Button::sub_menu(
                    "扫码",
                    vec![
                        key_button(
                            "扫码带提示",
                            |key| Action::ScancodeWaitmsg { key },
                            "rselfmenu_0_0",
                        ),
                        key_button(
                            "扫码推事件",
                            |key| Action::ScancodePush { key },
                            "rselfmenu_0_1",
                        ),
                    ],
                ),
                Button::sub_menu(
                    "发图",
                    vec![
                        key_button(
                            "系统拍照发图",
                            |key| Action::PicSysphoto { key },
                            "rselfmenu_1_0",
                        ),
                        key_button(
                            "拍照或者相册发图",
                            |key| Action::PicPhotoOrAlbum { key },
                            "rselfmenu_1_1",
                        ),
                        key_button(
                            "微信相册发图",
                            |key| Action::PicWeixin { key },
                            "rselfmenu_1_2",
                        ),
                    ],
                ),
                key_button(
                    "发送位置",
                    |key| Action::LocationSelect { key },
                    "rselfmenu_2_0",
                ),
                Button::new(
                    "图片",
                    Action::MediaId {
                        media_id: "MEDIA_ID1".into(),
                    },
                ),
                Button::new(
                    "图文消息",
                    Action::ViewLimited {
                        media_id: "MEDIA_ID2".into(),
                    },
                ),
                Button::new(
                    "发布后的图文消息",
                    Action::ArticleId {
                        article_id: "ARTICLE_ID1".into(),
                    },
                ),
                Button::new(
                    "发布后的图文消息",
                    Action::ArticleViewLimited {
                        article_id: "ARTICLE_ID2".into(),
                    },
                ),
            ],
        };
        assert_eq!(
            serde_json::to_value(&menu).expect("json"),
            json!({"button": [
                {"name": "扫码", "sub_button": [
                    {"type": "scancode_waitmsg", "name": "扫码带提示", "key": "rselfmenu_0_0"},
                    {"type": "scancode_push", "name": "扫码推事件", "key": "rselfmenu_0_1"}]},
                {"name": "发图", "sub_button": [
                    {"type": "pic_sysphoto", "name": "系统拍照发图", "key": "rselfmenu_1_0"},
                    {"type": "pic_photo_or_album", "name": "拍照或者相册发图", "key": "rselfmenu_1_1"},
                    {"type": "pic_weixin", "name": "微信相册发图", "key": "rselfmenu_1_2"}]},
                {"name": "发送位置", "type": "location_select", "key": "rselfmenu_2_0"},
                {"type": "media_id", "name": "图片", "media_id": "MEDIA_ID1"},
                {"type": "view_limited", "name": "图文消息", "media_id": "MEDIA_ID2"},
                {"type": "article_id", "name": "发布后的图文消息", "article_id": "ARTICLE_ID1"},
                {"type": "article_view_limited", "name": "发布后的图文消息",
                 "article_id": "ARTICLE_ID2"}]})
        );
    }

    #[test]
    fn the_addconditional_body_matches_wechats_example() {
        let mut rule = MatchRule::tag(2);
        rule.client_platform_type = Some("2".into());
        let body = Conditional {
            button: &[Button::click("今日歌曲", "V1001_TODAY_MUSIC")],
            matchrule: &rule,
        };
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            json!({"button": [{"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"}],
                   "matchrule": {"tag_id": "2", "client_platform_type": "2"}})
        );
        let id: MenuId = serde_json::from_str(r#"{"menuid":"208379533"}"#).expect("answer");
        assert_eq!(id.menuid, "208379533");
    }

    #[test]
    fn the_get_answer_of_wechats_example_is_read() {
        let answer = json!({
            "menu": {
                "button": [
                    {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC",
                     "sub_button": []},
                    {"name": "菜单", "sub_button": [
                        {"type": "view", "name": "搜索", "url": "http://www.soso.com/",
                         "sub_button": []},
                        {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD",
                         "sub_button": []}]}],
                "menuid": 208396938
            },
            "conditionalmenu": [{
                "button": [
                    {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC",
                     "sub_button": []}],
                "matchrule": {"group_id": 2, "sex": 1, "country": "中国", "province": "广东",
                              "city": "广州", "client_platform_type": 2},
                "menuid": 208396993
            }]
        });
        let menus: Menus = serde_json::from_value(answer).expect("reads");
        assert_eq!(menus.menu.menuid.as_deref(), Some("208396938"));
        assert_eq!(
            menus.menu.button[0],
            Button::click("今日歌曲", "V1001_TODAY_MUSIC")
        );
        assert_eq!(
            menus.menu.button[1],
            Button::sub_menu(
                "菜单",
                vec![
                    Button::view("搜索", "http://www.soso.com/"),
                    Button::click("赞一下我们", "V1001_GOOD"),
                ]
            )
        );
        let conditional = &menus.conditionalmenu[0];
        assert_eq!(conditional.menuid, "208396993");
        assert_eq!(
            conditional.matchrule.client_platform_type.as_deref(),
            Some("2")
        );
        assert_eq!(conditional.matchrule.other["sex"], 1);
        let trymatch: Menu = serde_json::from_value(json!({"button": [
            {"type": "view", "name": "tx", "url": "http://www.qq.com/", "sub_button": []}]}))
        .expect("trymatch");
        assert_eq!(
            trymatch.button,
            vec![Button::view("tx", "http://www.qq.com/")]
        );
    }

    #[test]
    fn unknown_button_types_survive_a_round_trip() {
        let raw = json!({"type": "news", "name": "历史", "value": "MEDIA",
                         "news_info": {"list": []}});
        let button: Button = serde_json::from_value(raw.clone()).expect("reads");
        assert_eq!(button.action.kind(), Some("news"));
        assert_eq!(serde_json::to_value(&button).expect("writes"), raw);
    }
}
