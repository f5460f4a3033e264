//! Mass messages (群发): `/cgi-bin/message/mass/sendall` (to everyone or a tag), `send` (to
//! a list of 2–10,000 openids; verified service accounts), `preview`, `get` and `delete`.
//!
//! A send is a job: WeChat answers with its `msg_id` at once and reports the outcome later in
//! the `MASSSENDJOBFINISH` event (or `get`). Quotas are the account's (a subscription account
//! 1 send a day; a service account 4 sends to all a month, each follower receiving at most 4
//! a month): 45028 when used up. A `clientmsgid` makes a send idempotent for 24 hours: sending
//! it again answers 45065 with the first send's `msg_id`, which [`MassSent::already_sent`]
//! reports as a success.

use serde::{Deserialize, Serialize};

use super::wire::{flag_as_int, u64_or_string};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const SENDALL_PATH: &str = "/cgi-bin/message/mass/sendall";
pub const SEND_PATH: &str = "/cgi-bin/message/mass/send";
pub const PREVIEW_PATH: &str = "/cgi-bin/message/mass/preview";
pub const GET_PATH: &str = "/cgi-bin/message/mass/get";
pub const DELETE_PATH: &str = "/cgi-bin/message/mass/delete";

/// WeChat's answer when a `clientmsgid` was already used (it carries that send's `msg_id`).
pub const CLIENT_MSG_ID_USED: i64 = 45065;
/// Openids in one `send`.
pub const MIN_OPENIDS: usize = 2;
pub const MAX_OPENIDS: usize = 10_000;

/// What a mass send carries, in WeChat's JSON (`msgtype` plus a field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "msgtype", rename_all = "lowercase")]
pub enum MassMessage {
    /// A draft (or old news material) by its `media_id`: the articles are published with
    /// the send and the draft leaves the draft box.
    Mpnews {
        mpnews: MediaRef,
    },
    Text {
        text: Content,
    },
    /// A voice material.
    Voice {
        voice: MediaRef,
    },
    /// Pictures (permanent images), as one image post.
    Image {
        images: Images,
    },
    /// A video, by the `media_id` `media/uploadvideo` gives.
    Mpvideo {
        mpvideo: MediaRef,
    },
    /// A card coupon.
    Wxcard {
        wxcard: CardRef,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaRef {
    pub media_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Content {
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CardRef {
    pub card_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Images {
    pub media_ids: Vec<String>,
    /// The text shown with the pictures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommend: Option<String>,
    #[serde(serialize_with = "flag_as_int")]
    pub need_open_comment: bool,
    #[serde(serialize_with = "flag_as_int")]
    pub only_fans_can_comment: bool,
}

impl MassMessage {
    pub fn text(content: impl Into<String>) -> MassMessage {
        MassMessage::Text {
            text: Content {
                content: content.into(),
            },
        }
    }

    pub fn mpnews(media_id: impl Into<String>) -> MassMessage {
        MassMessage::Mpnews {
            mpnews: MediaRef {
                media_id: media_id.into(),
            },
        }
    }

    pub fn voice(media_id: impl Into<String>) -> MassMessage {
        MassMessage::Voice {
            voice: MediaRef {
                media_id: media_id.into(),
            },
        }
    }

    pub fn images(media_ids: Vec<String>) -> MassMessage {
        MassMessage::Image {
            images: Images {
                media_ids,
                recommend: None,
                need_open_comment: false,
                only_fans_can_comment: false,
            },
        }
    }

    pub fn mpvideo(media_id: impl Into<String>) -> MassMessage {
        MassMessage::Mpvideo {
            mpvideo: MediaRef {
                media_id: media_id.into(),
            },
        }
    }
}

/// Who `sendall` goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    All,
    Tag(i64),
}

#[derive(Serialize)]
struct Filter {
    is_to_all: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_id: Option<i64>,
}

impl From<Audience> for Filter {
    fn from(a: Audience) -> Filter {
        match a {
            Audience::All => Filter {
                is_to_all: true,
                tag_id: None,
            },
            Audience::Tag(id) => Filter {
                is_to_all: false,
                tag_id: Some(id),
            },
        }
    }
}

/// Options of a send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// For `mpnews`: send even when an article turns out to be a reprint (the reprint is
    /// then sent as such); otherwise the send stops.
    pub send_ignore_reprint: bool,
    /// Makes the send idempotent for 24 hours (at most 64 bytes).
    pub clientmsgid: Option<String>,
}

/// `send_ignore_reprint` as WeChat takes it: a flag of `mpnews` sends.
fn reprint_flag(message: &MassMessage, options: &SendOptions) -> Option<u8> {
    matches!(message, MassMessage::Mpnews { .. }).then_some(u8::from(options.send_ignore_reprint))
}

#[derive(Serialize)]
struct SendAll<'a> {
    filter: Filter,
    #[serde(flatten)]
    message: &'a MassMessage,
    /// `0`/`1`, for `mpnews` only (as WeChat's examples have it).
    #[serde(skip_serializing_if = "Option::is_none")]
    send_ignore_reprint: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clientmsgid: Option<&'a str>,
}

#[derive(Serialize)]
struct SendList<'a> {
    touser: &'a [String],
    #[serde(flatten)]
    message: &'a MassMessage,
    /// `0`/`1`, for `mpnews` only (as WeChat's examples have it).
    #[serde(skip_serializing_if = "Option::is_none")]
    send_ignore_reprint: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clientmsgid: Option<&'a str>,
}

/// A submitted send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MassSent {
    /// As `MASSSENDJOBFINISH` reports it in `MsgID`.
    pub msg_id: u64,
    /// For `mpnews`: the id of the published articles (their statistics use it).
    pub msg_data_id: Option<u64>,
    /// The `clientmsgid` had been used: `msg_id` is that earlier send's, nothing new went out.
    pub already_sent: bool,
}

#[derive(Deserialize)]
struct SentAnswer {
    #[serde(deserialize_with = "u64_or_string")]
    msg_id: u64,
    #[serde(default)]
    msg_data_id: Option<u64>,
}

/// Reads a send's answer; a 45065 with the earlier `msg_id` is that send.
fn read_sent(status: u16, body: &str) -> Result<MassSent, ApiError> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && v.get("errcode").and_then(serde_json::Value::as_i64) == Some(CLIENT_MSG_ID_USED)
        && let Some(msg_id) = v.get("msg_id").and_then(serde_json::Value::as_u64)
    {
        return Ok(MassSent {
            msg_id,
            msg_data_id: None,
            already_sent: true,
        });
    }
    let answer: SentAnswer = super::read_answer(status, body)?;
    Ok(MassSent {
        msg_id: answer.msg_id,
        msg_data_id: answer.msg_data_id,
        already_sent: false,
    })
}

async fn submit<B: Serialize>(
    tokens: &TokenCache,
    api: &'static str,
    path: &str,
    body: &B,
) -> Result<MassSent, ApiError> {
    let json = serde_json::to_vec(body)
        .map_err(|e| ApiError::Protocol(format!("cannot encode the request: {e}")))?;
    tokens
        .call(api, |token| {
            let json = json.clone();
            async move {
                let res = tokens
                    .http()
                    .post(super::url_of(tokens.base(), path))
                    .query(&[("access_token", token.as_str())])
                    .header("content-type", "application/json; charset=utf-8")
                    .body(json)
                    .send()
                    .await
                    .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
                let status = res.status().as_u16();
                let text = res
                    .text()
                    .await
                    .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
                read_sent(status, &text)
            }
        })
        .await
}

/// `POST /cgi-bin/message/mass/sendall`: to every follower or those with a tag.
pub async fn sendall(
    tokens: &TokenCache,
    audience: Audience,
    message: &MassMessage,
    options: &SendOptions,
) -> Result<MassSent, ApiError> {
    let body = SendAll {
        filter: audience.into(),
        message,
        send_ignore_reprint: reprint_flag(message, options),
        clientmsgid: options.clientmsgid.as_deref(),
    };
    submit(tokens, "mass.sendall", SENDALL_PATH, &body).await
}

/// `POST /cgi-bin/message/mass/send`: to 2–10,000 openids (40130 below, 40032 above).
pub async fn send(
    tokens: &TokenCache,
    openids: &[String],
    message: &MassMessage,
    options: &SendOptions,
) -> Result<MassSent, ApiError> {
    let body = SendList {
        touser: openids,
        message,
        send_ignore_reprint: reprint_flag(message, options),
        clientmsgid: options.clientmsgid.as_deref(),
    };
    submit(tokens, "mass.send", SEND_PATH, &body).await
}

/// Who sees a preview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreviewTo {
    Openid(String),
    /// A WeChat ID (微信号); WeChat prefers it over an openid when both are given.
    WxName(String),
}

#[derive(Serialize)]
#[serde(untagged)]
enum PreviewMessage<'a> {
    Same(&'a MassMessage),
    /// Previews take one picture as `image.media_id`.
    Image {
        msgtype: &'static str,
        image: MediaRef,
    },
}

impl<'a> PreviewMessage<'a> {
    fn of(message: &'a MassMessage) -> PreviewMessage<'a> {
        match message {
            MassMessage::Image { images } => PreviewMessage::Image {
                msgtype: "image",
                image: MediaRef {
                    media_id: images.media_ids.first().cloned().unwrap_or_default(),
                },
            },
            other => PreviewMessage::Same(other),
        }
    }
}

#[derive(Serialize)]
struct Preview<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    touser: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    towxname: Option<&'a str>,
    #[serde(flatten)]
    message: PreviewMessage<'a>,
}

fn preview_body<'a>(to: &'a PreviewTo, message: &'a MassMessage) -> Preview<'a> {
    let (touser, towxname) = match to {
        PreviewTo::Openid(o) => (Some(o.as_str()), None),
        PreviewTo::WxName(n) => (None, Some(n.as_str())),
    };
    Preview {
        touser,
        towxname,
        message: PreviewMessage::of(message),
    }
}

/// `POST /cgi-bin/message/mass/preview`: one follower sees the message at once, outside
/// every quota. Answers the preview's `msg_id` when WeChat gives one.
pub async fn preview(
    tokens: &TokenCache,
    to: &PreviewTo,
    message: &MassMessage,
) -> Result<Option<u64>, ApiError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        msg_id: Option<u64>,
    }
    let answer: Answer = tokens
        .post("mass.preview", PREVIEW_PATH, &preview_body(to, message))
        .await?;
    Ok(answer.msg_id)
}

/// Where a send is.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MassStatus {
    #[serde(deserialize_with = "u64_or_string")]
    pub msg_id: u64,
    /// `SENDING`, `SEND_SUCCESS`, `SEND_FAIL` or `DELETE`.
    pub msg_status: String,
}

impl MassStatus {
    pub fn is_sending(&self) -> bool {
        self.msg_status == "SENDING"
    }
}

#[derive(Serialize)]
struct MsgIdText {
    msg_id: String,
}

/// `POST /cgi-bin/message/mass/get {msg_id}`.
pub async fn status(tokens: &TokenCache, msg_id: u64) -> Result<MassStatus, ApiError> {
    let body = MsgIdText {
        msg_id: msg_id.to_string(),
    };
    tokens.post("mass.get", GET_PATH, &body).await
}

#[derive(Serialize)]
struct DeleteBody {
    msg_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    article_idx: Option<u32>,
}

/// `POST /cgi-bin/message/mass/delete {msg_id, article_idx}`: takes a sent `mpnews` or
/// `mpvideo` off the web (followers keep what they received). `article_idx` from 1 deletes
/// one article, `None` all of them.
pub async fn delete(
    tokens: &TokenCache,
    msg_id: u64,
    article_idx: Option<u32>,
) -> Result<(), ApiError> {
    tokens
        .post::<_, Done>(
            "mass.delete",
            DELETE_PATH,
            &DeleteBody {
                msg_id,
                article_idx,
            },
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn v<T: Serialize>(body: &T) -> Value {
        serde_json::to_value(body).expect("json")
    }

    fn to_tag(message: &MassMessage) -> Value {
        v(&SendAll {
            filter: Audience::Tag(2).into(),
            message,
            send_ignore_reprint: reprint_flag(message, &SendOptions::default()),
            clientmsgid: None,
        })
    }

    #[test]
    fn sendall_bodies_match_wechats_examples() {
        assert_eq!(
            v(&SendAll {
                filter: Audience::Tag(2).into(),
                message: &MassMessage::mpnews("123dsdajkasd231jhksad"),
                send_ignore_reprint: Some(0),
                clientmsgid: Some("send_123"),
            }),
            json!({"filter": {"is_to_all": false, "tag_id": 2},
                   "mpnews": {"media_id": "123dsdajkasd231jhksad"},
                   "msgtype": "mpnews", "send_ignore_reprint": 0, "clientmsgid": "send_123"})
        );
        assert_eq!(
            to_tag(&MassMessage::text("CONTENT")),
            json!({"filter": {"is_to_all": false, "tag_id": 2}, "text": {"content": "CONTENT"},
                   "msgtype": "text"})
        );
        assert_eq!(
            to_tag(&MassMessage::voice("123dsdajkasd231jhksad"))["voice"],
            json!({"media_id": "123dsdajkasd231jhksad"})
        );
        let images = MassMessage::Image {
            images: Images {
                media_ids: vec!["aaa".into(), "bbb".into(), "ccc".into()],
                recommend: Some("xxx".into()),
                need_open_comment: true,
                only_fans_can_comment: false,
            },
        };
        let body = to_tag(&images);
        assert_eq!(body["msgtype"], "image");
        assert_eq!(
            body["images"],
            json!({"media_ids": ["aaa", "bbb", "ccc"], "recommend": "xxx",
                   "need_open_comment": 1, "only_fans_can_comment": 0})
        );
        let video = to_tag(&MassMessage::mpvideo(
            "IhdaAQXuvJtGzwwc0abfXnzeezfO0NgPK6AQYShD8RQYMTtfzbLdBIQkQziv2XJc",
        ));
        assert_eq!(video["msgtype"], "mpvideo");
        assert_eq!(
            video["mpvideo"]["media_id"],
            "IhdaAQXuvJtGzwwc0abfXnzeezfO0NgPK6AQYShD8RQYMTtfzbLdBIQkQziv2XJc"
        );
        let card = to_tag(&MassMessage::Wxcard {
            wxcard: CardRef {
                card_id: "123dsdajkasd231jhksad".into(),
            },
        });
        assert_eq!(card["wxcard"]["card_id"], "123dsdajkasd231jhksad");
        assert_eq!(
            v(&Filter::from(Audience::All)),
            json!({"is_to_all": true}),
            "to everyone, no tag"
        );
    }

    #[test]
    fn send_and_preview_bodies_match_wechats_examples() {
        let openids = vec!["OPENID1".to_string(), "OPENID2".to_string()];
        assert_eq!(
            v(&SendList {
                touser: &openids,
                message: &MassMessage::mpnews("123dsdajkasd231jhksad"),
                send_ignore_reprint: Some(0),
                clientmsgid: None,
            }),
            json!({"touser": ["OPENID1", "OPENID2"],
                   "mpnews": {"media_id": "123dsdajkasd231jhksad"},
                   "msgtype": "mpnews", "send_ignore_reprint": 0})
        );
        assert_eq!(
            v(&preview_body(
                &PreviewTo::Openid("OPENID".into()),
                &MassMessage::text("CONTENT")
            )),
            json!({"touser": "OPENID", "text": {"content": "CONTENT"}, "msgtype": "text"})
        );
        assert_eq!(
            v(&preview_body(
                &PreviewTo::WxName("示例的微信号".into()),
                &MassMessage::images(vec!["123dsdajkasd231jhksad".into()])
            )),
            json!({"towxname": "示例的微信号", "image": {"media_id": "123dsdajkasd231jhksad"},
                   "msgtype": "image"})
        );
        assert_eq!(
            v(&MsgIdText {
                msg_id: "201053012".into()
            }),
            json!({"msg_id": "201053012"})
        );
        assert_eq!(
            v(&DeleteBody {
                msg_id: 30124,
                article_idx: Some(2)
            }),
            json!({"msg_id": 30124, "article_idx": 2})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let sent = read_sent(
            200,
            r#"{"errcode":0,"errmsg":"send job submission success","msg_id":34182,"msg_data_id":206227730}"#,
        )
        .expect("sent");
        assert_eq!(
            sent,
            MassSent {
                msg_id: 34182,
                msg_data_id: Some(206_227_730),
                already_sent: false
            }
        );
        let again = read_sent(
            200,
            r#"{"errcode":45065,"errmsg":"clientmsgid exist","msg_id":123456}"#,
        )
        .expect("the earlier send");
        assert!(again.already_sent);
        assert_eq!(again.msg_id, 123_456);
        let quota = read_sent(200, r#"{"errcode":45028,"errmsg":"has no masssend quota"}"#);
        assert_eq!(quota.err().and_then(|e| e.errcode()), Some(45028));
        let too_fast = read_sent(
            200,
            r#"{"errcode":45066,"errmsg":"same clientmsgid retry too fast"}"#,
        );
        assert_eq!(too_fast.err().and_then(|e| e.errcode()), Some(45066));
        let status: MassStatus =
            serde_json::from_str(r#"{"msg_id":201053012,"msg_status":"SEND_SUCCESS"}"#)
                .expect("get");
        assert!(!status.is_sending());
    }
}
