//! Customer-service messages (客服消息; wechat-protocol.md §6.4, limits §2.5).
//!
//! - `POST /cgi-bin/message/custom/send` `{touser, msgtype, <msgtype>: {…},
//!   customservice?: {kf_account}}` for text, image, voice, video, music, news (one article),
//!   mpnews, mpnewsarticle, msgmenu, wxcard and miniprogrampage → `{"errcode":0,"errmsg":"ok"}`;
//!   the message lands in the follower's inbox.
//! - `POST /cgi-bin/message/custom/typing` `{touser, command: "Typing"|"CancelTyping"}`.
//!
//! Rules, in the order they are checked:
//! - Shapes: an unknown msgtype is 40008; a missing object or field 47001; empty text 44004;
//!   text over 2,048 UTF-8 bytes 45002 (WeChat documents no number for customer-service text;
//!   2,048 bytes is its limit for passive text replies and WeCom text, so the sandbox holds
//!   the product to it); news without an article 44003, with more than one 45008; an mpnews
//!   media_id that is no news material or draft 40007; a msgmenu without items 44005.
//! - The follower: unknown openid 40003; unfollowed 45015; blacklisted 43019.
//! - The window (the account may only answer a follower who acted): a message from the
//!   follower allows 5 sends within 48 h; a menu click, a follow or a QR scan allows 3 within
//!   1 minute. A new action of the same sort renews its allowance. Outside every window
//!   45015 "response out of time limit or subscription is canceled"; allowance used up 45047
//!   "out of response count limit".
//! - Typing needs an open window (45015) and an exchange either way within the last 30 s
//!   (45080); it shows for 15 s and is refused while it shows (45081); other commands 45072.
//!
//! Windows are documents of kind `cs_window` keyed by openid. A simulated follower's action
//! opens them through [`record_action`], called by the followers module.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{self, WxError, WxResult};
use crate::followers::{self, Action};
use crate::inbox::{self, InboxItem, Source, optional_text, required_text};
use crate::registry::StoreError;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/message/custom/send", post(send))
        .route("/cgi-bin/message/custom/typing", post(typing))
}

/// Documents of this kind, keyed by openid, hold each follower's open windows.
pub const KIND: &str = "cs_window";
pub const MESSAGE_WINDOW_MS: i64 = 48 * 3600 * 1000;
pub const MESSAGE_ALLOWANCE: u32 = 5;
pub const EVENT_WINDOW_MS: i64 = 60_000;
pub const EVENT_ALLOWANCE: u32 = 3;
pub const MAX_TEXT_BYTES: usize = 2048;
/// Typing may follow an exchange this recent, either way.
pub const TYPING_AFTER_EXCHANGE_MS: i64 = 30_000;
/// How long "typing…" shows on the follower's phone.
pub const TYPING_SHOWS_MS: i64 = 15_000;

/// What a follower did that matters to the customer-service window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    /// Sent the account a message.
    Message,
    /// Clicked a menu button of type click, scancode_push or scancode_waitmsg.
    MenuClick,
    Subscribe,
    QrScan,
    /// Unfollowed: every window closes.
    Unsubscribe,
}

impl Interaction {
    /// The interaction a simulated follower's action is; `None` for actions that open no
    /// window (a `view` menu click, a location report).
    pub fn of(action: &Action) -> Option<Interaction> {
        match action {
            Action::Text { .. }
            | Action::SendLocation { .. }
            | Action::Image { .. }
            | Action::Voice { .. }
            | Action::Video { .. }
            | Action::Link { .. } => Some(Interaction::Message),
            Action::Click { .. } | Action::ScanCode { .. } => Some(Interaction::MenuClick),
            Action::Follow { .. } => Some(Interaction::Subscribe),
            Action::Scan { .. } => Some(Interaction::QrScan),
            Action::Unfollow => Some(Interaction::Unsubscribe),
            // Menu buttons that open pages or pickers, and location reports, open no window.
            Action::View { .. }
            | Action::Location { .. }
            | Action::SendPictures { .. }
            | Action::SelectLocation { .. }
            | Action::ViewMiniProgram { .. } => None,
        }
    }
}

/// Sends still allowed until a moment.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Allowance {
    pub until_ms: i64,
    pub left: u32,
}

impl Allowance {
    fn live(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }
}

/// A follower's customer-service windows.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Window {
    /// Opened by the follower's latest message.
    #[serde(default)]
    pub message: Option<Allowance>,
    /// Opened by the latest menu click, follow or QR scan.
    #[serde(default)]
    pub event: Option<Allowance>,
    /// The latest message either way, for typing.
    #[serde(default)]
    pub last_exchange_ms: Option<i64>,
    #[serde(default)]
    pub typing_until_ms: i64,
}

impl Window {
    fn record(&mut self, interaction: Interaction, now_ms: i64) {
        let allowance = |ms: i64, left: u32| {
            Some(Allowance {
                until_ms: now_ms + ms,
                left,
            })
        };
        match interaction {
            Interaction::Message => {
                self.message = allowance(MESSAGE_WINDOW_MS, MESSAGE_ALLOWANCE);
            }
            Interaction::MenuClick | Interaction::Subscribe | Interaction::QrScan => {
                self.event = allowance(EVENT_WINDOW_MS, EVENT_ALLOWANCE);
            }
            Interaction::Unsubscribe => {
                *self = Window::default();
                return;
            }
        }
        self.last_exchange_ms = Some(now_ms);
    }

    fn is_open(&self, now_ms: i64) -> bool {
        [self.event, self.message]
            .iter()
            .flatten()
            .any(|a| a.live(now_ms))
    }

    /// Takes one send from the allowance that ends first.
    fn spend(&mut self, now_ms: i64) -> Result<(), WxError> {
        if !self.is_open(now_ms) {
            return Err(out_of_time());
        }
        let usable = [&mut self.event, &mut self.message]
            .into_iter()
            .flatten()
            .find(|a| a.live(now_ms) && a.left > 0)
            .ok_or_else(out_of_count)?;
        usable.left -= 1;
        self.last_exchange_ms = Some(now_ms);
        self.typing_until_ms = 0;
        Ok(())
    }

    fn type_command(&mut self, command: Command, now_ms: i64) -> Result<(), WxError> {
        if !self.is_open(now_ms) {
            return Err(out_of_time());
        }
        let recent = self
            .last_exchange_ms
            .is_some_and(|t| now_ms - t <= TYPING_AFTER_EXCHANGE_MS);
        if !recent {
            return Err(WxError::new(
                45080,
                "need sending message to user, or recving message from user in the last 30 seconds before typing",
            ));
        }
        match command {
            Command::Typing if self.typing_until_ms > now_ms => {
                Err(WxError::new(45081, "you are already typing"))
            }
            Command::Typing => {
                self.typing_until_ms = now_ms + TYPING_SHOWS_MS;
                Ok(())
            }
            Command::CancelTyping => {
                self.typing_until_ms = 0;
                Ok(())
            }
        }
    }
}

fn out_of_time() -> WxError {
    WxError::new(
        45015,
        "response out of time limit or subscription is canceled",
    )
}

fn out_of_count() -> WxError {
    WxError::new(45047, "out of response count limit")
}

/// Opens (or closes) the follower's windows for what they just did.
pub async fn record_interaction(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    interaction: Interaction,
) -> Result<(), StoreError> {
    let now = sb.now_ms();
    sb.docs
        .update(app_id, KIND, openid, |w: Option<Window>| {
            let mut w = w.unwrap_or_default();
            w.record(interaction, now);
            Ok::<_, StoreError>((w, ()))
        })
        .await?
}

/// [`record_interaction`] for a simulated follower's action, when it is one.
pub async fn record_action(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    action: &Action,
) -> Result<(), StoreError> {
    match Interaction::of(action) {
        Some(interaction) => record_interaction(sb, app_id, openid, interaction).await,
        None => Ok(()),
    }
}

/// The follower's windows now.
pub async fn window(sb: &Sandbox, app_id: &str, openid: &str) -> Result<Window, StoreError> {
    Ok(sb.docs.get(app_id, KIND, openid).await?.unwrap_or_default())
}

async fn change_window(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    change: impl Fn(&mut Window, i64) -> Result<(), WxError>,
) -> Result<(), WxError> {
    let now = sb.now_ms();
    sb.docs
        .update(app_id, KIND, openid, |w: Option<Window>| {
            let mut w = w.unwrap_or_default();
            change(&mut w, now).map(|()| (w, ()))
        })
        .await?
}

/// `POST /cgi-bin/message/custom/send`.
async fn send(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let openid = touser(&req)?;
    let (msgtype, content) = outgoing(&sb, app_id, &req).await?;
    reachable_follower(&sb, app_id, openid).await?;
    change_window(&sb, app_id, openid, Window::spend).await?;
    let item = InboxItem {
        source: Source::Custom,
        msgtype,
        content,
        time: sb.now_ms() / 1000,
        msg_id: None,
        kf_account: optional_text(&req, "customservice", "kf_account")
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        preview: false,
    };
    inbox::push(&sb, app_id, openid, &item).await?;
    Ok(error::ok())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Typing,
    CancelTyping,
}

/// `POST /cgi-bin/message/custom/typing`.
async fn typing(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let openid = touser(&req)?;
    reachable_follower(&sb, app_id, openid).await?;
    let command = match req.get("command").and_then(Value::as_str) {
        Some("Typing") => Command::Typing,
        Some("CancelTyping") => Command::CancelTyping,
        _ => return Err(WxError::new(45072, "invalid command")),
    };
    change_window(&sb, app_id, openid, |w, now| w.type_command(command, now)).await?;
    Ok(error::ok())
}

fn touser(req: &Value) -> Result<&str, WxError> {
    req.get("touser")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(WxError::invalid_openid)
}

/// The follower, when the account may still reach them at all.
async fn reachable_follower(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
) -> Result<followers::Follower, WxError> {
    let follower = followers::follower(sb, app_id, openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    if !follower.subscribe {
        return Err(out_of_time());
    }
    if follower.blacklisted {
        return Err(WxError::new(43019, "require remove blacklist"));
    }
    Ok(follower)
}

/// The message's type and what the follower's phone shows, after WeChat's shape checks.
async fn outgoing(sb: &Sandbox, app_id: &str, req: &Value) -> Result<(String, Value), WxError> {
    let msgtype = req
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content = match msgtype {
        "text" => text_content(req)?,
        "image" | "voice" => json!({ "media_id": required_text(req, msgtype, "media_id")? }),
        "video" => json!({
            "media_id": required_text(req, "video", "media_id")?,
            "thumb_media_id": optional_text(req, "video", "thumb_media_id"),
            "title": optional_text(req, "video", "title"),
            "description": optional_text(req, "video", "description"),
        }),
        "music" => json!({
            "title": optional_text(req, "music", "title"),
            "description": optional_text(req, "music", "description"),
            "musicurl": required_text(req, "music", "musicurl")?,
            "hqmusicurl": required_text(req, "music", "hqmusicurl")?,
            "thumb_media_id": required_text(req, "music", "thumb_media_id")?,
        }),
        "news" => news_content(req)?,
        "mpnews" => {
            let media_id = required_text(req, "mpnews", "media_id")?;
            let articles = inbox::news_articles(sb, app_id, media_id)
                .await?
                .ok_or_else(inbox::invalid_media_id)?;
            json!({ "media_id": media_id, "articles": articles })
        }
        "mpnewsarticle" => {
            json!({ "article_id": required_text(req, "mpnewsarticle", "article_id")? })
        }
        "msgmenu" => menu_content(req)?,
        "wxcard" => json!({ "card_id": required_text(req, "wxcard", "card_id")? }),
        "miniprogrampage" => json!({
            "title": optional_text(req, "miniprogrampage", "title"),
            "appid": required_text(req, "miniprogrampage", "appid")?,
            "pagepath": required_text(req, "miniprogrampage", "pagepath")?,
            "thumb_media_id": required_text(req, "miniprogrampage", "thumb_media_id")?,
        }),
        _ => return Err(WxError::new(40008, "invalid message type")),
    };
    Ok((msgtype.to_string(), content))
}

fn text_content(req: &Value) -> Result<Value, WxError> {
    let content = optional_text(req, "text", "content").ok_or_else(WxError::data_format_error)?;
    if content.is_empty() {
        return Err(WxError::new(44004, "empty content"));
    }
    if content.len() > MAX_TEXT_BYTES {
        return Err(WxError::new(45002, "content size out of limit"));
    }
    Ok(json!({ "content": content }))
}

/// A news message carries exactly one article since 2018.
fn news_content(req: &Value) -> Result<Value, WxError> {
    let articles = req
        .get("news")
        .and_then(|n| n.get("articles"))
        .and_then(Value::as_array)
        .ok_or_else(WxError::data_format_error)?;
    match articles.len() {
        0 => return Err(WxError::new(44003, "empty news data")),
        1 => {}
        _ => return Err(WxError::new(45008, "article size out of limit")),
    }
    let field = |a: &Value, k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let cards: Vec<Value> = articles
        .iter()
        .map(|a| {
            json!({
                "title": field(a, "title"),
                "description": field(a, "description"),
                "url": field(a, "url"),
                "picurl": field(a, "picurl"),
            })
        })
        .collect();
    Ok(json!({ "articles": cards }))
}

/// A message with reply buttons: `{head_content, list: [{id, content}], tail_content}`.
fn menu_content(req: &Value) -> Result<Value, WxError> {
    let menu = req.get("msgmenu").ok_or_else(WxError::data_format_error)?;
    let list = menu
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(WxError::data_format_error)?;
    if list.is_empty() {
        return Err(WxError::new(44005, "empty list size"));
    }
    let items = list
        .iter()
        .map(|item| {
            let text = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(WxError::data_format_error)
            };
            Ok(json!({ "id": text("id")?, "content": text("content")? }))
        })
        .collect::<Result<Vec<_>, WxError>>()?;
    Ok(json!({
        "head_content": optional_text(req, "msgmenu", "head_content").unwrap_or_default(),
        "list": items,
        "tail_content": optional_text(req, "msgmenu", "tail_content").unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_796_011_200_000;

    #[test]
    fn a_message_allows_five_sends_for_48_hours() {
        let mut w = Window::default();
        assert_eq!(w.spend(T0).map_err(|e| e.errcode), Err(45015));
        w.record(Interaction::Message, T0);
        for _ in 0..5 {
            w.spend(T0 + 1000).expect("inside the allowance");
        }
        assert_eq!(w.spend(T0 + 2000).map_err(|e| e.errcode), Err(45047));
        w.record(Interaction::Message, T0 + 3000);
        assert!(w.spend(T0 + 3000 + MESSAGE_WINDOW_MS - 1).is_ok());
        assert_eq!(
            w.spend(T0 + 3000 + MESSAGE_WINDOW_MS)
                .map_err(|e| e.errcode),
            Err(45015)
        );
    }

    #[test]
    fn an_event_allows_three_sends_for_a_minute_before_the_message_allowance() {
        let mut w = Window::default();
        w.record(Interaction::Message, T0);
        w.record(Interaction::MenuClick, T0);
        for _ in 0..3 {
            w.spend(T0).expect("event allowance");
        }
        assert_eq!(w.message.map(|a| a.left), Some(MESSAGE_ALLOWANCE));
        w.spend(T0).expect("then the message allowance");
        assert_eq!(w.message.map(|a| a.left), Some(MESSAGE_ALLOWANCE - 1));

        let mut only_event = Window::default();
        only_event.record(Interaction::Subscribe, T0);
        assert_eq!(
            only_event
                .spend(T0 + EVENT_WINDOW_MS)
                .map_err(|e| e.errcode),
            Err(45015)
        );
        only_event.record(Interaction::Unsubscribe, T0);
        assert_eq!(only_event, Window::default());
    }

    #[test]
    fn typing_needs_a_recent_exchange_and_shows_once() {
        let mut w = Window::default();
        w.record(Interaction::Message, T0);
        w.type_command(Command::Typing, T0 + 1000).expect("typing");
        assert_eq!(
            w.type_command(Command::Typing, T0 + 2000)
                .map_err(|e| e.errcode),
            Err(45081)
        );
        w.type_command(Command::CancelTyping, T0 + 2000)
            .expect("cancel");
        assert_eq!(
            w.type_command(Command::Typing, T0 + TYPING_AFTER_EXCHANGE_MS + 1)
                .map_err(|e| e.errcode),
            Err(45080)
        );
    }

    #[test]
    fn only_window_opening_actions_are_interactions() {
        assert_eq!(
            Interaction::of(&Action::Text {
                content: "hi".into()
            }),
            Some(Interaction::Message)
        );
        assert_eq!(
            Interaction::of(&Action::View {
                url: "https://example.com".into()
            }),
            None
        );
    }
}
