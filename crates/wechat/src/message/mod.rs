//! Inbound messages and events as typed values.
//!
//! A body is read once into its leaf fields (see [`Fields`]) and the typed value takes the
//! strings out of them, borrowed from the body where the XML allows (a single CDATA section
//! is never copied). Unknown message types and events are kept with all their fields and are
//! never an error; a known type whose numbers do not parse is one.

mod event;
pub(crate) mod owned;

use std::borrow::Cow;
use std::str::FromStr;

pub use event::{
    AccountVerify, AccountVerifyKind, ArticleUrl, CardEvent, CardEventKind, CopyrightCheck,
    CopyrightCheckItem, Event, LocationSelect, MassSendJobFinish, ScanCode, SendPics, SubscribeMsg,
};
use owned::{Own, owned_struct};

use crate::xml::{Fields, ParseError};

/// One inbound message or event: the common header and the typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    /// The account's original id (`gh_…`).
    pub to_user_name: Cow<'a, str>,
    /// The sender's openid.
    pub from_user_name: Cow<'a, str>,
    /// Unix seconds.
    pub create_time: i64,
    pub body: MessageBody<'a>,
}

/// What a message carries, by `MsgType`.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageBody<'a> {
    Text(Text<'a>),
    Image(Image<'a>),
    Voice(Voice<'a>),
    Video(Video<'a>),
    ShortVideo(Video<'a>),
    Location(Location<'a>),
    Link(Link<'a>),
    /// A mini program card sent to customer service.
    MiniProgramPage(MiniProgramPage<'a>),
    /// `MsgType` `event`.
    Event(Event<'a>),
    /// A `MsgType` this crate does not know: kept whole, to be answered with `success`.
    Unknown {
        msg_type: Cow<'a, str>,
        msg_id: Option<u64>,
        /// Every field but the header.
        fields: Fields<'a>,
    },
}

/// Text and image messages that quote an article carry its id and index.
#[derive(Debug, Clone, PartialEq)]
pub struct Text<'a> {
    pub msg_id: u64,
    /// The user's text exactly as sent, control characters included.
    pub content: Cow<'a, str>,
    pub msg_data_id: Option<u64>,
    pub idx: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Image<'a> {
    pub msg_id: u64,
    pub pic_url: Cow<'a, str>,
    pub media_id: Cow<'a, str>,
    pub msg_data_id: Option<u64>,
    pub idx: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Voice<'a> {
    pub msg_id: u64,
    pub media_id: Cow<'a, str>,
    /// `amr`, `speex`, …
    pub format: Cow<'a, str>,
    /// Speech recognition result, only when the account enabled it.
    pub recognition: Option<Cow<'a, str>>,
    pub media_id_16k: Option<Cow<'a, str>>,
}

/// `video` and `shortvideo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Video<'a> {
    pub msg_id: u64,
    pub media_id: Cow<'a, str>,
    pub thumb_media_id: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Location<'a> {
    pub msg_id: u64,
    /// `Location_X`.
    pub latitude: f64,
    /// `Location_Y`.
    pub longitude: f64,
    pub scale: u32,
    pub label: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link<'a> {
    pub msg_id: u64,
    pub title: Cow<'a, str>,
    pub description: Cow<'a, str>,
    pub url: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MiniProgramPage<'a> {
    pub msg_id: u64,
    pub app_id: Cow<'a, str>,
    pub title: Cow<'a, str>,
    pub page_path: Cow<'a, str>,
    pub thumb_url: Cow<'a, str>,
    pub thumb_media_id: Cow<'a, str>,
}

owned_struct!(Message {
    to_user_name,
    from_user_name,
    create_time,
    body
});
owned_struct!(Text {
    msg_id,
    content,
    msg_data_id,
    idx
});
owned_struct!(Image {
    msg_id,
    pic_url,
    media_id,
    msg_data_id,
    idx
});
owned_struct!(Voice {
    msg_id,
    media_id,
    format,
    recognition,
    media_id_16k
});
owned_struct!(Video {
    msg_id,
    media_id,
    thumb_media_id
});
owned_struct!(Location {
    msg_id,
    latitude,
    longitude,
    scale,
    label
});
owned_struct!(Link {
    msg_id,
    title,
    description,
    url
});
owned_struct!(MiniProgramPage {
    msg_id,
    app_id,
    title,
    page_path,
    thumb_url,
    thumb_media_id
});

impl<'a> Message<'a> {
    /// Parses a message body (plaintext, or decrypted from `<Encrypt>`).
    pub fn parse(xml: &'a str) -> Result<Self, ParseError> {
        let mut fields = Fields::parse(xml)?;
        let to_user_name = fields
            .take("ToUserName")
            .ok_or(ParseError::MissingField("ToUserName"))?;
        let from_user_name = fields
            .take("FromUserName")
            .ok_or(ParseError::MissingField("FromUserName"))?;
        let create_time = required(fields.take("CreateTime"), "CreateTime")?;
        let msg_type = fields
            .take("MsgType")
            .ok_or(ParseError::MissingField("MsgType"))?;
        let body = MessageBody::from_fields(msg_type, fields)?;
        Ok(Message {
            to_user_name,
            from_user_name,
            create_time,
            body,
        })
    }

    /// [`Message::parse`] for raw body bytes: invalid UTF-8 is a [`ParseError::InvalidUtf8`].
    pub fn parse_bytes(xml: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse(crate::xml::checked_str(xml)?)
    }

    /// The wire `MsgType`: `text`, `event`, …, or the unknown type as received.
    pub fn msg_type(&self) -> &str {
        match &self.body {
            MessageBody::Text(_) => "text",
            MessageBody::Image(_) => "image",
            MessageBody::Voice(_) => "voice",
            MessageBody::Video(_) => "video",
            MessageBody::ShortVideo(_) => "shortvideo",
            MessageBody::Location(_) => "location",
            MessageBody::Link(_) => "link",
            MessageBody::MiniProgramPage(_) => "miniprogrampage",
            MessageBody::Event(_) => "event",
            MessageBody::Unknown { msg_type, .. } => msg_type,
        }
    }

    /// The user message's `MsgId` (`MsgID` is accepted too); events have none.
    pub fn msg_id(&self) -> Option<u64> {
        match &self.body {
            MessageBody::Text(m) => Some(m.msg_id),
            MessageBody::Image(m) => Some(m.msg_id),
            MessageBody::Voice(m) => Some(m.msg_id),
            MessageBody::Video(m) | MessageBody::ShortVideo(m) => Some(m.msg_id),
            MessageBody::Location(m) => Some(m.msg_id),
            MessageBody::Link(m) => Some(m.msg_id),
            MessageBody::MiniProgramPage(m) => Some(m.msg_id),
            MessageBody::Event(_) => None,
            MessageBody::Unknown { msg_id, .. } => *msg_id,
        }
    }

    pub fn event(&self) -> Option<&Event<'a>> {
        match &self.body {
            MessageBody::Event(e) => Some(e),
            _ => None,
        }
    }

    /// The key that makes WeChat's retries (up to 3 attempts, possibly on other instances)
    /// recognisable, scoped to one account (add the account when the store is shared):
    ///
    /// - a message: `m|MsgId|FromUserName|CreateTime` — MsgId alone collided across users;
    /// - an event: `e|FromUserName|CreateTime|event|EventKey`, then `|c:UserCardCode` when
    ///   present and `|i:MsgID` for events that carry one (mass/template send results), since
    ///   several events share a sender and a second;
    /// - an unknown type without MsgId: `u|FromUserName|CreateTime|MsgType`.
    ///
    /// String parts are percent-escaped (`%`, `|`) so no two messages share a key by accident.
    pub fn dedup_key(&self) -> String {
        let mut key = String::with_capacity(64 + self.from_user_name.len());
        if let Some(event) = self.event() {
            key.push('e');
            push_part(&mut key, &self.from_user_name);
            push_number(&mut key, self.create_time);
            key.push('|');
            for c in event.name().chars() {
                push_escaped(&mut key, c.to_ascii_lowercase());
            }
            push_part(&mut key, event.event_key().unwrap_or(""));
            if let Some(code) = event.user_card_code() {
                key.push_str("|c:");
                code.chars().for_each(|c| push_escaped(&mut key, c));
            }
            if let Some(id) = event.msg_id() {
                key.push_str("|i:");
                key.push_str(itoa::Buffer::new().format(id));
            }
        } else if let Some(id) = self.msg_id() {
            key.push_str("m|");
            key.push_str(itoa::Buffer::new().format(id));
            push_part(&mut key, &self.from_user_name);
            push_number(&mut key, self.create_time);
        } else {
            key.push('u');
            push_part(&mut key, &self.from_user_name);
            push_number(&mut key, self.create_time);
            push_part(&mut key, self.msg_type());
        }
        key
    }
}

fn push_part(key: &mut String, part: &str) {
    key.push('|');
    if part.bytes().any(|b| b == b'%' || b == b'|') {
        part.chars().for_each(|c| push_escaped(key, c));
    } else {
        key.push_str(part);
    }
}

/// `|` and the number: the key's numeric parts, without the formatting machinery (a third
/// of the key's cost on the callback's path).
fn push_number(key: &mut String, n: impl itoa::Integer) {
    key.push('|');
    key.push_str(itoa::Buffer::new().format(n));
}

fn push_escaped(key: &mut String, c: char) {
    match c {
        '%' => key.push_str("%25"),
        '|' => key.push_str("%7C"),
        c => key.push(c),
    }
}

impl<'a> MessageBody<'a> {
    fn from_fields(msg_type: Cow<'a, str>, mut f: Fields<'a>) -> Result<Self, ParseError> {
        let kind = msg_type.as_ref();
        let is = |name: &str| kind.eq_ignore_ascii_case(name);
        Ok(if is("event") {
            MessageBody::Event(Event::from_fields(f)?)
        } else if is("text") {
            MessageBody::Text(Text {
                msg_id: msg_id(&mut f)?,
                content: text(&mut f, "Content"),
                msg_data_id: number(f.get("MsgDataId"), "MsgDataId")?,
                idx: number(f.get("Idx"), "Idx")?,
            })
        } else if is("image") {
            MessageBody::Image(Image {
                msg_id: msg_id(&mut f)?,
                pic_url: text(&mut f, "PicUrl"),
                media_id: text(&mut f, "MediaId"),
                msg_data_id: number(f.get("MsgDataId"), "MsgDataId")?,
                idx: number(f.get("Idx"), "Idx")?,
            })
        } else if is("voice") {
            MessageBody::Voice(Voice {
                msg_id: msg_id(&mut f)?,
                media_id: text(&mut f, "MediaId"),
                format: text(&mut f, "Format"),
                recognition: f.take("Recognition"),
                media_id_16k: f.take("MediaId16K"),
            })
        } else if is("video") || is("shortvideo") {
            let video = Video {
                msg_id: msg_id(&mut f)?,
                media_id: text(&mut f, "MediaId"),
                thumb_media_id: text(&mut f, "ThumbMediaId"),
            };
            if is("video") {
                MessageBody::Video(video)
            } else {
                MessageBody::ShortVideo(video)
            }
        } else if is("location") {
            MessageBody::Location(Location {
                msg_id: msg_id(&mut f)?,
                latitude: required(f.take("Location_X"), "Location_X")?,
                longitude: required(f.take("Location_Y"), "Location_Y")?,
                scale: number(f.get("Scale"), "Scale")?.unwrap_or(0),
                label: text(&mut f, "Label"),
            })
        } else if is("link") {
            MessageBody::Link(Link {
                msg_id: msg_id(&mut f)?,
                title: text(&mut f, "Title"),
                description: text(&mut f, "Description"),
                url: text(&mut f, "Url"),
            })
        } else if is("miniprogrampage") {
            MessageBody::MiniProgramPage(MiniProgramPage {
                msg_id: msg_id(&mut f)?,
                app_id: text(&mut f, "AppId"),
                title: text(&mut f, "Title"),
                page_path: text(&mut f, "PagePath"),
                thumb_url: text(&mut f, "ThumbUrl"),
                thumb_media_id: text(&mut f, "ThumbMediaId"),
            })
        } else {
            MessageBody::Unknown {
                msg_type,
                msg_id: optional_msg_id(&mut f)?,
                fields: f,
            }
        })
    }
}

impl Own for MessageBody<'_> {
    type Owned = MessageBody<'static>;
    fn own(self) -> MessageBody<'static> {
        match self {
            MessageBody::Text(m) => MessageBody::Text(m.own()),
            MessageBody::Image(m) => MessageBody::Image(m.own()),
            MessageBody::Voice(m) => MessageBody::Voice(m.own()),
            MessageBody::Video(m) => MessageBody::Video(m.own()),
            MessageBody::ShortVideo(m) => MessageBody::ShortVideo(m.own()),
            MessageBody::Location(m) => MessageBody::Location(m.own()),
            MessageBody::Link(m) => MessageBody::Link(m.own()),
            MessageBody::MiniProgramPage(m) => MessageBody::MiniProgramPage(m.own()),
            MessageBody::Event(e) => MessageBody::Event(e.own()),
            MessageBody::Unknown {
                msg_type,
                msg_id,
                fields,
            } => MessageBody::Unknown {
                msg_type: msg_type.own(),
                msg_id,
                fields: fields.own(),
            },
        }
    }
}

/// A string field; a missing one reads as empty, as in every peer SDK.
fn text<'a>(f: &mut Fields<'a>, name: &str) -> Cow<'a, str> {
    f.take(name).unwrap_or_default()
}

/// `MsgId`, or `MsgID` as some pushes spell it.
fn optional_msg_id(f: &mut Fields<'_>) -> Result<Option<u64>, ParseError> {
    let value = f.take_any(&["MsgId", "MsgID"]);
    number(value.as_deref(), "MsgId")
}

fn msg_id(f: &mut Fields<'_>) -> Result<u64, ParseError> {
    optional_msg_id(f)?.ok_or(ParseError::MissingField("MsgId"))
}

/// A number that may be absent (or empty); present but unreadable is an error.
fn number<T: FromStr>(value: Option<&str>, name: &'static str) -> Result<Option<T>, ParseError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ParseError::InvalidNumber(name)),
    }
}

fn required<T: FromStr>(value: Option<Cow<'_, str>>, name: &'static str) -> Result<T, ParseError> {
    number(value.as_deref(), name)?.ok_or(ParseError::MissingField(name))
}

#[cfg(test)]
mod tests;
