//! Menus as WeChat allows them: the tree of buttons, every button type, WeChat's limits in
//! BYTES of UTF-8 (a Chinese character is 3), the comparison of our menu with the one WeChat
//! serves, and what each of WeChat's refusals means. Pure rules; no I/O.
//!
//! The limits agree with `crates/sandbox/src/menus.rs` (WeChat's documented errcodes):
//! 1–3 top buttons (40016), each an action or a parent of 1–5 sub-buttons (40023, no deeper:
//! 40022); names 1–16 bytes on top (40018) and 1–60 below (40025); keys 1–128 bytes
//! (40019/40026); URLs 1–1,024 bytes (40020/40027) on http(s) with a host (40055/40054);
//! mini programs an appid (40166) and a page path (40165); media buttons a media_id (40007)
//! and article buttons an article_id (53600).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wechat::api::menu::{Action, Button as WxButton};

use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

pub const MAX_BUTTONS: usize = 3;
pub const MAX_SUB_BUTTONS: usize = 5;
pub const MAX_TOP_NAME_BYTES: usize = 16;
pub const MAX_SUB_NAME_BYTES: usize = 60;
pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_URL_BYTES: usize = 1024;
/// Mini program appids are `wx` and 16 hex digits; room for WeChat changing that.
pub const MAX_APPID_BYTES: usize = 64;
pub const MAX_PAGEPATH_BYTES: usize = 1024;

/// Every button type WeChat knows, in the order the editor offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ButtonType {
    /// Sends a CLICK event with the key; we answer with the library item chosen, if any.
    Click,
    /// Opens a web page.
    View,
    ScancodePush,
    ScancodeWaitmsg,
    PicSysphoto,
    PicPhotoOrAlbum,
    PicWeixin,
    LocationSelect,
    /// Sends a library item (image, voice, video or news) as WeChat's permanent material.
    MediaId,
    /// Opens a news item (added to WeChat's drafts).
    ViewLimited,
    /// Sends a published article (a news item published at WeChat).
    ArticleId,
    /// Opens a published article.
    ArticleViewLimited,
    /// Opens a mini program page (the URL is for clients without mini programs).
    Miniprogram,
}

/// What a type needs besides its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Key,
    Url,
    Item,
    MiniProgram,
}

impl ButtonType {
    pub const ALL: [ButtonType; 13] = [
        ButtonType::Click,
        ButtonType::View,
        ButtonType::MediaId,
        ButtonType::ViewLimited,
        ButtonType::ArticleId,
        ButtonType::ArticleViewLimited,
        ButtonType::Miniprogram,
        ButtonType::ScancodePush,
        ButtonType::ScancodeWaitmsg,
        ButtonType::PicSysphoto,
        ButtonType::PicPhotoOrAlbum,
        ButtonType::PicWeixin,
        ButtonType::LocationSelect,
    ];

    /// WeChat's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonType::Click => "click",
            ButtonType::View => "view",
            ButtonType::ScancodePush => "scancode_push",
            ButtonType::ScancodeWaitmsg => "scancode_waitmsg",
            ButtonType::PicSysphoto => "pic_sysphoto",
            ButtonType::PicPhotoOrAlbum => "pic_photo_or_album",
            ButtonType::PicWeixin => "pic_weixin",
            ButtonType::LocationSelect => "location_select",
            ButtonType::MediaId => "media_id",
            ButtonType::ViewLimited => "view_limited",
            ButtonType::ArticleId => "article_id",
            ButtonType::ArticleViewLimited => "article_view_limited",
            ButtonType::Miniprogram => "miniprogram",
        }
    }

    pub fn parse(s: &str) -> Option<ButtonType> {
        ButtonType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            ButtonType::Click => "menu.type.click",
            ButtonType::View => "menu.type.view",
            ButtonType::ScancodePush => "menu.type.scancode_push",
            ButtonType::ScancodeWaitmsg => "menu.type.scancode_waitmsg",
            ButtonType::PicSysphoto => "menu.type.pic_sysphoto",
            ButtonType::PicPhotoOrAlbum => "menu.type.pic_photo_or_album",
            ButtonType::PicWeixin => "menu.type.pic_weixin",
            ButtonType::LocationSelect => "menu.type.location_select",
            ButtonType::MediaId => "menu.type.media_id",
            ButtonType::ViewLimited => "menu.type.view_limited",
            ButtonType::ArticleId => "menu.type.article_id",
            ButtonType::ArticleViewLimited => "menu.type.article_view_limited",
            ButtonType::Miniprogram => "menu.type.miniprogram",
        }
    }

    pub fn needs(self) -> Needs {
        match self {
            ButtonType::Click
            | ButtonType::ScancodePush
            | ButtonType::ScancodeWaitmsg
            | ButtonType::PicSysphoto
            | ButtonType::PicPhotoOrAlbum
            | ButtonType::PicWeixin
            | ButtonType::LocationSelect => Needs::Key,
            ButtonType::View => Needs::Url,
            ButtonType::MediaId
            | ButtonType::ViewLimited
            | ButtonType::ArticleId
            | ButtonType::ArticleViewLimited => Needs::Item,
            ButtonType::Miniprogram => Needs::MiniProgram,
        }
    }

    /// The library kinds a button of this type may use (a click button's reply may be any).
    pub fn item_kinds(self) -> &'static [&'static str] {
        match self {
            ButtonType::Click => &["text", "image", "voice", "video", "news"],
            ButtonType::MediaId => &["image", "voice", "video", "news"],
            ButtonType::ViewLimited | ButtonType::ArticleId | ButtonType::ArticleViewLimited => {
                &["news"]
            }
            _ => &[],
        }
    }
}

/// One button as the editor, the API and our rows have it. A top button with sub-buttons
/// has no action of its own (its type and fields are dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MenuButton {
    #[schema(example = "会员")]
    pub name: String,
    /// WeChat's button type (`click`, `view`, `miniprogram` …); empty for a parent.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    #[schema(example = "click")]
    pub kind: String,
    /// Key buttons: the event key (generated when left empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// `view` and `miniprogram`: the page.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// A library item of the merchant: what a click answers with, what a media or article
    /// button sends or opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub appid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pagepath: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub sub_button: Vec<MenuButton>,
}

impl MenuButton {
    pub fn button_type(&self) -> Option<ButtonType> {
        ButtonType::parse(&self.kind)
    }

    pub fn is_parent(&self) -> bool {
        !self.sub_button.is_empty()
    }
}

/// Every button of a tree with its field prefix (`button[0]`, `button[0].sub_button[2]`).
pub fn walk(buttons: &[MenuButton]) -> Vec<(String, &MenuButton)> {
    let mut out = vec![];
    for (i, b) in buttons.iter().enumerate() {
        let at = format!("button[{i}]");
        out.push((at.clone(), b));
        for (j, s) in b.sub_button.iter().enumerate() {
            out.push((format!("{at}.sub_button[{j}]"), s));
        }
    }
    out
}

/// The host of an http(s) URL, lower-cased; `None` when the URL has no usable host (the
/// same rule as WeChat's 40054/40055).
pub fn url_host(url: &str) -> Option<String> {
    let rest = ["https://", "http://"].iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .and_then(|_| url.get(scheme.len()..))
    })?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let usable = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || "-._".contains(c));
    usable.then(|| host.to_ascii_lowercase())
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a menu against WeChat's limits and returns it cleaned: names and fields trimmed,
/// each button keeping only what its type uses, parents without an action, empty keys
/// filled by `new_key`. Every problem is reported on its field (`button[1].sub_button[0].name`).
pub fn validate(
    buttons: &[MenuButton],
    new_key: &mut dyn FnMut() -> String,
) -> Result<Vec<MenuButton>, FieldErrors> {
    let mut errors = FieldErrors::default();
    if buttons.is_empty() {
        errors.add("button", Msg::new("menu.no_buttons"));
    } else if buttons.len() > MAX_BUTTONS {
        errors.add(
            "button",
            Msg::new("menu.too_many_buttons").arg("max", MAX_BUTTONS),
        );
    }
    let mut out = vec![];
    for (i, b) in buttons.iter().enumerate() {
        let at = format!("button[{i}]");
        let name = check_name(&b.name, MAX_TOP_NAME_BYTES, &at, &mut errors, true);
        if b.is_parent() {
            if b.sub_button.len() > MAX_SUB_BUTTONS {
                errors.add(
                    &format!("{at}.sub_button"),
                    Msg::new("menu.too_many_subs").arg("max", MAX_SUB_BUTTONS),
                );
            }
            let mut subs = vec![];
            for (j, s) in b.sub_button.iter().enumerate() {
                let sat = format!("{at}.sub_button[{j}]");
                if s.is_parent() {
                    errors.add(&format!("{sat}.sub_button"), Msg::new("menu.too_deep"));
                }
                let name = check_name(&s.name, MAX_SUB_NAME_BYTES, &sat, &mut errors, false);
                subs.push(checked_action(s, name, &sat, &mut errors, new_key));
            }
            out.push(MenuButton {
                name,
                sub_button: subs,
                ..MenuButton::default()
            });
        } else {
            out.push(checked_action(b, name, &at, &mut errors, new_key));
        }
    }
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (at, b) in walk(&out) {
        if b.button_type().is_some_and(|t| t.needs() == Needs::Key) && !b.key.is_empty() {
            let n = keys.entry(b.key.as_str()).or_default();
            *n += 1;
            if *n > 1 {
                errors.add(&format!("{at}.key"), Msg::new("menu.key_taken"));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn check_name(raw: &str, max: usize, at: &str, errors: &mut FieldErrors, top: bool) -> String {
    let name = raw.trim().to_string();
    let field = format!("{at}.name");
    if name.is_empty() {
        errors.add(&field, Msg::new("menu.name_required"));
    } else if name.len() > max {
        let key = if top {
            "menu.top_name_too_long"
        } else {
            "menu.sub_name_too_long"
        };
        errors.add(
            &field,
            Msg::new(key).arg("max", max).arg("bytes", name.len()),
        );
    } else if has_control(&name) {
        errors.add(&field, Msg::new("menu.name_invalid"));
    }
    name
}

fn check_url(raw: &str, field: &str, errors: &mut FieldErrors) -> String {
    let url = raw.trim().to_string();
    if url.is_empty() {
        errors.add(field, Msg::new("menu.url_required"));
    } else if url.len() > MAX_URL_BYTES {
        errors.add(
            field,
            Msg::new("menu.url_too_long")
                .arg("max", MAX_URL_BYTES)
                .arg("bytes", url.len()),
        );
    } else if url_host(&url).is_none() || has_control(&url) {
        errors.add(field, Msg::new("menu.url_invalid"));
    }
    url
}

fn checked_action(
    b: &MenuButton,
    name: String,
    at: &str,
    errors: &mut FieldErrors,
    new_key: &mut dyn FnMut() -> String,
) -> MenuButton {
    let kind = b.kind.trim();
    let mut out = MenuButton {
        name,
        kind: kind.to_string(),
        ..MenuButton::default()
    };
    let Some(t) = ButtonType::parse(kind) else {
        let msg = if kind.is_empty() {
            Msg::new("menu.type_required")
        } else {
            Msg::new("menu.type_unknown")
        };
        errors.add(&format!("{at}.type"), msg);
        return out;
    };
    match t.needs() {
        Needs::Key => {
            let key = b.key.trim();
            let field = format!("{at}.key");
            if key.is_empty() {
                out.key = new_key();
            } else if key.len() > MAX_KEY_BYTES {
                errors.add(
                    &field,
                    Msg::new("menu.key_too_long")
                        .arg("max", MAX_KEY_BYTES)
                        .arg("bytes", key.len()),
                );
            } else if has_control(key) {
                errors.add(&field, Msg::new("menu.key_invalid"));
            }
            if !key.is_empty() {
                out.key = key.to_string();
            }
            if t == ButtonType::Click {
                out.item_id = b.item_id;
            }
        }
        Needs::Url => out.url = check_url(&b.url, &format!("{at}.url"), errors),
        Needs::Item => match b.item_id {
            Some(id) => out.item_id = Some(id),
            None => errors.add(&format!("{at}.item_id"), Msg::new("menu.item_required")),
        },
        Needs::MiniProgram => {
            out.url = check_url(&b.url, &format!("{at}.url"), errors);
            let appid = b.appid.trim();
            if appid.is_empty() {
                errors.add(&format!("{at}.appid"), Msg::new("menu.appid_required"));
            } else if appid.len() > MAX_APPID_BYTES
                || !appid.chars().all(|c| c.is_ascii_alphanumeric())
            {
                errors.add(&format!("{at}.appid"), Msg::new("menu.appid_invalid"));
            }
            out.appid = appid.to_string();
            let path = b.pagepath.trim();
            if path.is_empty() {
                errors.add(
                    &format!("{at}.pagepath"),
                    Msg::new("menu.pagepath_required"),
                );
            } else if path.len() > MAX_PAGEPATH_BYTES || has_control(path) {
                errors.add(
                    &format!("{at}.pagepath"),
                    Msg::new("menu.pagepath_invalid").arg("max", MAX_PAGEPATH_BYTES),
                );
            }
            out.pagepath = path.to_string();
        }
    }
    out
}

/// The library items a tree uses, with the button's field prefix, name and type.
pub fn item_uses(buttons: &[MenuButton]) -> Vec<(String, &MenuButton, ButtonType, i64)> {
    walk(buttons)
        .into_iter()
        .filter_map(|(at, b)| {
            let t = b.button_type()?;
            let id = b.item_id?;
            (!b.is_parent()).then_some((at, b, t, id))
        })
        .collect()
}

/// (event key, library item id) of the click buttons that answer with an item.
pub fn click_replies(buttons: &[MenuButton]) -> Vec<(String, i64)> {
    walk(buttons)
        .into_iter()
        .filter(|(_, b)| b.button_type() == Some(ButtonType::Click) && !b.is_parent())
        .filter_map(|(_, b)| Some((b.key.clone(), b.item_id?)))
        .collect()
}

/// WeChat's ids of library items, for building the menu WeChat takes: item id → media_id
/// (material or draft) and item id → article_id (published).
#[derive(Clone, Debug, Default)]
pub struct WeChatIds {
    pub media: HashMap<i64, String>,
    pub articles: HashMap<i64, String>,
}

/// The menu as WeChat's `menu/create` takes it. Item buttons whose WeChat id is unknown get
/// an empty one (only a comparison uses that; publishing resolves every id first).
pub fn to_wechat(buttons: &[MenuButton], ids: &WeChatIds) -> Vec<WxButton> {
    buttons.iter().map(|b| wx_button(b, ids)).collect()
}

fn wx_button(b: &MenuButton, ids: &WeChatIds) -> WxButton {
    if b.is_parent() {
        return WxButton::sub_menu(
            b.name.clone(),
            b.sub_button.iter().map(|s| wx_button(s, ids)).collect(),
        );
    }
    let media = || {
        b.item_id
            .and_then(|i| ids.media.get(&i).cloned())
            .unwrap_or_default()
    };
    let article = || {
        b.item_id
            .and_then(|i| ids.articles.get(&i).cloned())
            .unwrap_or_default()
    };
    let key = b.key.clone();
    let action = match b.button_type() {
        Some(ButtonType::Click) | None => Action::Click { key },
        Some(ButtonType::View) => Action::View { url: b.url.clone() },
        Some(ButtonType::ScancodePush) => Action::ScancodePush { key },
        Some(ButtonType::ScancodeWaitmsg) => Action::ScancodeWaitmsg { key },
        Some(ButtonType::PicSysphoto) => Action::PicSysphoto { key },
        Some(ButtonType::PicPhotoOrAlbum) => Action::PicPhotoOrAlbum { key },
        Some(ButtonType::PicWeixin) => Action::PicWeixin { key },
        Some(ButtonType::LocationSelect) => Action::LocationSelect { key },
        Some(ButtonType::MediaId) => Action::MediaId { media_id: media() },
        Some(ButtonType::ViewLimited) => Action::ViewLimited { media_id: media() },
        Some(ButtonType::ArticleId) => Action::ArticleId {
            article_id: article(),
        },
        Some(ButtonType::ArticleViewLimited) => Action::ArticleViewLimited {
            article_id: article(),
        },
        Some(ButtonType::Miniprogram) => Action::Miniprogram {
            url: b.url.clone(),
            appid: b.appid.clone(),
            pagepath: b.pagepath.clone(),
        },
    };
    WxButton::new(b.name.clone(), action)
}

// ---- comparison with WeChat's live menu ----

/// One way WeChat's live menu differs from ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Difference {
    /// Where: `1` is the first top button, `2.3` the third sub-button of the second.
    #[schema(example = "2.3")]
    pub place: String,
    /// `missing_at_wechat`, `only_at_wechat`, `name`, `type` or `target`.
    pub what: String,
    /// What ours has (a name, type or target), empty when ours has nothing there.
    pub ours: String,
    /// What WeChat has.
    pub wechat: String,
}

fn target_of(a: &Action) -> String {
    match a {
        Action::SubMenu(_) => String::new(),
        Action::Click { key }
        | Action::ScancodePush { key }
        | Action::ScancodeWaitmsg { key }
        | Action::PicSysphoto { key }
        | Action::PicPhotoOrAlbum { key }
        | Action::PicWeixin { key }
        | Action::LocationSelect { key } => key.clone(),
        Action::View { url } => url.clone(),
        Action::MediaId { media_id } | Action::ViewLimited { media_id } => media_id.clone(),
        Action::ArticleId { article_id } | Action::ArticleViewLimited { article_id } => {
            article_id.clone()
        }
        Action::Miniprogram {
            appid, pagepath, ..
        } => format!("{appid} {pagepath}"),
        Action::Other { fields, .. } => serde_json::Value::Object(fields.clone()).to_string(),
    }
}

fn kind_of(a: &Action) -> String {
    a.kind().unwrap_or("sub_menu").to_string()
}

/// The differences between our buttons and WeChat's, button by button in order.
pub fn compare(ours: &[WxButton], wechat: &[WxButton]) -> Vec<Difference> {
    let mut out = vec![];
    compare_level(ours, wechat, "", &mut out);
    out
}

fn compare_level(ours: &[WxButton], wechat: &[WxButton], prefix: &str, out: &mut Vec<Difference>) {
    for i in 0..ours.len().max(wechat.len()) {
        let place = format!("{prefix}{}", i + 1);
        match (ours.get(i), wechat.get(i)) {
            (Some(o), None) => out.push(Difference {
                place,
                what: "missing_at_wechat".into(),
                ours: o.name.clone(),
                wechat: String::new(),
            }),
            (None, Some(w)) => out.push(Difference {
                place,
                what: "only_at_wechat".into(),
                ours: String::new(),
                wechat: w.name.clone(),
            }),
            (Some(o), Some(w)) => {
                if o.name != w.name {
                    out.push(Difference {
                        place: place.clone(),
                        what: "name".into(),
                        ours: o.name.clone(),
                        wechat: w.name.clone(),
                    });
                }
                match (&o.action, &w.action) {
                    (Action::SubMenu(os), Action::SubMenu(ws)) => {
                        compare_level(os, ws, &format!("{place}."), out);
                    }
                    (oa, wa) if kind_of(oa) != kind_of(wa) => out.push(Difference {
                        place,
                        what: "type".into(),
                        ours: kind_of(oa),
                        wechat: kind_of(wa),
                    }),
                    (oa, wa) if target_of(oa) != target_of(wa) => out.push(Difference {
                        place,
                        what: "target".into(),
                        ours: target_of(oa),
                        wechat: target_of(wa),
                    }),
                    _ => {}
                }
            }
            (None, None) => {}
        }
    }
}

// ---- WeChat's refusals ----

/// What to tell the merchant when WeChat refused a menu call with `errcode`.
pub fn explain_refusal(errcode: i64) -> Msg {
    let key = match errcode {
        48001 => "menu.wxerr.48001",
        40016 => "menu.wxerr.40016",
        40017 | 40024 => "menu.wxerr.type",
        40018 | 40025 => "menu.wxerr.name",
        40019 | 40026 => "menu.wxerr.key",
        40020 | 40027 => "menu.wxerr.url",
        40054 | 40055 => "menu.wxerr.domain",
        40022 => "menu.wxerr.40022",
        40023 => "menu.wxerr.40023",
        40007 => "menu.wxerr.40007",
        53600 => "menu.wxerr.53600",
        40165 | 40166 => "menu.wxerr.miniprogram",
        46003 => "menu.wxerr.46003",
        65301 => "menu.wxerr.65301",
        65303 => "menu.wxerr.65303",
        65304 | 65320 => "menu.wxerr.rule",
        65316 => "menu.wxerr.65316",
        45009 => "wxerr.45009",
        40013 => "wxerr.40013",
        40001 | 40125 => "wxerr.40125",
        40164 | 89503 => "wxerr.40164",
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    };
    Msg::new(key).arg("code", errcode)
}

/// The distinct link domains of a tree (WeChat allows 3 across all personalized menus).
pub fn link_domains(buttons: &[MenuButton]) -> BTreeSet<String> {
    walk(buttons)
        .into_iter()
        .filter_map(|(_, b)| url_host(&b.url))
        .collect()
}

/// A button's taps from the counters: (kind, target) → taps. Click buttons count CLICK
/// events by key, view buttons VIEW events by URL; other types have no count.
pub fn taps_of(b: &MenuButton, taps: &HashMap<(String, String), i64>) -> Option<i64> {
    let key = match b.button_type()? {
        ButtonType::Click => ("click".to_string(), b.key.clone()),
        ButtonType::View => ("view".to_string(), b.url.clone()),
        _ => return None,
    };
    Some(taps.get(&key).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("K{n}")
        }
    }

    fn action(name: &str, kind: &str) -> MenuButton {
        MenuButton {
            name: name.into(),
            kind: kind.into(),
            ..MenuButton::default()
        }
    }

    fn view(name: &str, url: &str) -> MenuButton {
        MenuButton {
            url: url.into(),
            ..action(name, "view")
        }
    }

    fn parent(name: &str, subs: Vec<MenuButton>) -> MenuButton {
        MenuButton {
            name: name.into(),
            sub_button: subs,
            ..MenuButton::default()
        }
    }

    fn errors_of(buttons: &[MenuButton]) -> Vec<(String, &'static str)> {
        match validate(buttons, &mut keys()) {
            Ok(_) => vec![],
            Err(e) => e.0.into_iter().map(|e| (e.field, e.msg.key)).collect(),
        }
    }

    #[test]
    fn names_are_counted_in_bytes_of_utf8() {
        // 5 Chinese characters are 15 bytes: fine on top; 6 are 18: too long.
        assert!(errors_of(&[action("五个汉字呀", "click")]).is_empty());
        assert_eq!(
            errors_of(&[action("六个汉字太长", "click")]),
            vec![("button[0].name".into(), "menu.top_name_too_long")]
        );
        assert!(errors_of(&[action(&"a".repeat(16), "click")]).is_empty());
        assert!(!errors_of(&[action(&"a".repeat(17), "click")]).is_empty());
        // Sub-buttons take 60 bytes: 20 Chinese characters, not 21.
        let sub = |n: usize| parent("菜单", vec![action(&"字".repeat(n), "click")]);
        assert!(errors_of(&[sub(20)]).is_empty());
        assert_eq!(
            errors_of(&[sub(21)]),
            vec![(
                "button[0].sub_button[0].name".into(),
                "menu.sub_name_too_long"
            )]
        );
        let err = validate(&[action("六个汉字太长", "click")], &mut keys()).expect_err("long");
        let zh = crate::platform::i18n::Lang::ZhCn.render(&err.0[0].msg);
        assert!(zh.contains("16 字节") && zh.contains("18"), "{zh}");
    }

    #[test]
    fn counts_of_buttons_are_wechats() {
        assert_eq!(errors_of(&[]), vec![("button".into(), "menu.no_buttons")]);
        let four: Vec<_> = (0..4).map(|i| action(&format!("b{i}"), "click")).collect();
        assert_eq!(
            errors_of(&four),
            vec![("button".into(), "menu.too_many_buttons")]
        );
        let six: Vec<_> = (0..6).map(|i| action(&format!("s{i}"), "click")).collect();
        assert_eq!(
            errors_of(&[parent("p", six)]),
            vec![("button[0].sub_button".into(), "menu.too_many_subs")]
        );
        let deep = parent("p", vec![parent("q", vec![action("r", "click")])]);
        assert!(
            errors_of(&[deep])
                .iter()
                .any(|(_, k)| *k == "menu.too_deep")
        );
    }

    #[test]
    fn each_type_needs_its_fields() {
        assert_eq!(
            errors_of(&[action("a", "")]),
            vec![("button[0].type".into(), "menu.type_required")]
        );
        assert_eq!(
            errors_of(&[action("a", "news")]),
            vec![("button[0].type".into(), "menu.type_unknown")]
        );
        assert_eq!(
            errors_of(&[action("a", "view")]),
            vec![("button[0].url".into(), "menu.url_required")]
        );
        assert_eq!(
            errors_of(&[view("a", "ftp://x.com")]),
            vec![("button[0].url".into(), "menu.url_invalid")]
        );
        let long = format!("https://x.com/{}", "a".repeat(1011));
        assert_eq!(long.len(), 1025);
        assert_eq!(
            errors_of(&[view("a", &long)]),
            vec![("button[0].url".into(), "menu.url_too_long")]
        );
        assert!(errors_of(&[view("a", &long[..1024])]).is_empty());
        assert_eq!(
            errors_of(&[action("a", "media_id")]),
            vec![("button[0].item_id".into(), "menu.item_required")]
        );
        let fields: Vec<_> = errors_of(&[action("a", "miniprogram")])
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            vec!["button[0].url", "button[0].appid", "button[0].pagepath"]
        );
        let mut key = action("a", "click");
        key.key = "k".repeat(129);
        assert_eq!(
            errors_of(&[key]),
            vec![("button[0].key".into(), "menu.key_too_long")]
        );
    }

    #[test]
    fn keys_are_generated_and_parents_lose_their_action() {
        let mut top = parent(
            " 服务 ",
            vec![action("扫码", "scancode_push"), action("签到", "click")],
        );
        top.kind = "click".into();
        top.key = "IGNORED".into();
        let ok = validate(&[top], &mut keys()).expect("valid");
        assert_eq!(ok[0].name, "服务");
        assert_eq!(ok[0].kind, "");
        assert_eq!(ok[0].key, "");
        assert_eq!(ok[0].sub_button[0].key, "K1");
        assert_eq!(ok[0].sub_button[1].key, "K2");
        let mut a = action("a", "click");
        a.key = "SAME".into();
        let mut b = action("b", "location_select");
        b.key = "SAME".into();
        assert_eq!(
            errors_of(&[a, b]),
            vec![("button[1].key".into(), "menu.key_taken")]
        );
    }

    #[test]
    fn click_replies_are_the_keys_with_items() {
        let mut a = action("a", "click");
        a.key = "A".into();
        a.item_id = Some(7);
        let mut b = action("b", "click");
        b.key = "B".into();
        let tree = vec![a, parent("p", vec![b, view("v", "https://x.com")])];
        assert_eq!(click_replies(&tree), vec![("A".to_string(), 7)]);
        assert_eq!(walk(&tree).len(), 4);
        assert_eq!(walk(&tree)[2].0, "button[1].sub_button[0]");
    }

    #[test]
    fn the_comparison_says_where_menus_differ() {
        let ours = vec![
            WxButton::click("今日", "K1"),
            WxButton::sub_menu(
                "更多",
                vec![
                    WxButton::view("官网", "https://a.com"),
                    WxButton::click("赞", "K2"),
                ],
            ),
        ];
        assert!(compare(&ours, &ours).is_empty());
        let wechat = vec![
            WxButton::click("今天", "K1"),
            WxButton::sub_menu("更多", vec![WxButton::view("官网", "https://b.com")]),
            WxButton::view("新", "https://c.com"),
        ];
        let d = compare(&ours, &wechat);
        let view: Vec<_> = d
            .iter()
            .map(|d| (d.place.as_str(), d.what.as_str()))
            .collect();
        assert_eq!(
            view,
            vec![
                ("1", "name"),
                ("2.1", "target"),
                ("2.2", "missing_at_wechat"),
                ("3", "only_at_wechat")
            ]
        );
    }

    #[test]
    fn every_refusal_is_explained() {
        for code in [
            48001, 40016, 40017, 40018, 40019, 40020, 40022, 40023, 40024, 40025, 40026, 40027,
            40054, 40055, 40007, 53600, 40165, 40166, 65301, 65303, 65304, 65316, 65320,
        ] {
            assert!(
                explain_refusal(code).key.starts_with("menu.wxerr."),
                "{code}"
            );
        }
        assert_eq!(explain_refusal(12345).key, "wxerr.other");
    }

    #[test]
    fn every_type_round_trips_and_has_a_label() {
        for t in ButtonType::ALL {
            assert_eq!(ButtonType::parse(t.as_str()), Some(t));
            assert!(crate::platform::i18n::has_key(t.label_key()), "{t:?}");
        }
    }
}
