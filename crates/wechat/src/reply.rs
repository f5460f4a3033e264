//! Passive replies: the XML answered in the callback's HTTP response.
//!
//! Strings go in CDATA. A `]]>` inside a string would end the section early and break the
//! document (peers had this bug with LLM output), so the section is split there:
//! `a]]>b` becomes `<![CDATA[a]]]]><![CDATA[>b]]>`, which any XML reader joins back.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::message::{Message, MessageBody};
use crate::xml::{Fields, ParseError, find_cdata_end, group_value};

/// What the callback answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<'a> {
    /// The literal `success`: stops WeChat's retries without showing anything. Never
    /// encrypted, even in safe mode.
    Success,
    Message(ReplyMessage<'a>),
}

/// A reply message: the header and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyMessage<'a> {
    /// The user's openid: the request's `FromUserName`.
    pub to_user_name: Cow<'a, str>,
    /// The account: the request's `ToUserName`.
    pub from_user_name: Cow<'a, str>,
    pub create_time: i64,
    pub body: ReplyBody<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody<'a> {
    Text {
        content: Cow<'a, str>,
    },
    Image {
        media_id: Cow<'a, str>,
    },
    Voice {
        media_id: Cow<'a, str>,
    },
    Video {
        media_id: Cow<'a, str>,
        title: Option<Cow<'a, str>>,
        description: Option<Cow<'a, str>>,
    },
    Music {
        title: Option<Cow<'a, str>>,
        description: Option<Cow<'a, str>>,
        music_url: Option<Cow<'a, str>>,
        hq_music_url: Option<Cow<'a, str>>,
        thumb_media_id: Cow<'a, str>,
    },
    /// Today WeChat shows only one article in a reply to a user's message and up to 8
    /// otherwise (see [`news_article_limit`]); the list is not cut here.
    News {
        articles: Vec<Article<'a>>,
    },
    /// Hands the conversation to human customer service, optionally to one agent.
    TransferCustomerService {
        kf_account: Option<Cow<'a, str>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Article<'a> {
    pub title: Cow<'a, str>,
    pub description: Cow<'a, str>,
    pub pic_url: Cow<'a, str>,
    pub url: Cow<'a, str>,
}

const EVENT_ARTICLE_LIMIT: usize = 8;

/// The most articles a news reply may carry in answer to `inbound`: 1 for a user's message
/// (the rule since October 2018), 8 for events such as a menu click or a follow.
pub fn news_article_limit(inbound: &Message<'_>) -> usize {
    match inbound.body {
        MessageBody::Event(_) => EVENT_ARTICLE_LIMIT,
        _ => 1,
    }
}

impl ReplyBody<'_> {
    /// The reply's `MsgType`.
    pub fn msg_type(&self) -> &'static str {
        match self {
            ReplyBody::Text { .. } => "text",
            ReplyBody::Image { .. } => "image",
            ReplyBody::Voice { .. } => "voice",
            ReplyBody::Video { .. } => "video",
            ReplyBody::Music { .. } => "music",
            ReplyBody::News { .. } => "news",
            ReplyBody::TransferCustomerService { .. } => "transfer_customer_service",
        }
    }
}

impl<'m> ReplyMessage<'m> {
    /// A reply to `inbound`: sender and receiver swapped.
    pub fn answering(inbound: &'m Message<'_>, create_time: i64, body: ReplyBody<'m>) -> Self {
        ReplyMessage {
            to_user_name: Cow::Borrowed(&inbound.from_user_name),
            from_user_name: Cow::Borrowed(&inbound.to_user_name),
            create_time,
            body,
        }
    }

    pub fn msg_type(&self) -> &'static str {
        self.body.msg_type()
    }

    /// Appends the reply's XML to `out`.
    pub fn write_xml(&self, out: &mut String) {
        out.push_str("<xml>");
        write_header(
            out,
            &self.to_user_name,
            &self.from_user_name,
            self.create_time,
        );
        self.body.write_after_header(out);
    }

    pub fn to_xml(&self) -> String {
        // The header's tags are ~130 bytes besides the two names; a text reply's ~60 more.
        let text = match &self.body {
            ReplyBody::Text { content } => content.len(),
            _ => 256,
        };
        let mut out =
            String::with_capacity(256 + self.to_user_name.len() + self.from_user_name.len() + text);
        self.write_xml(&mut out);
        out
    }
}

impl ReplyBody<'_> {
    /// Appends what a reply message with this body holds after its header: from
    /// `<MsgType>` to the closing `</xml>`.
    fn write_after_header(&self, out: &mut String) {
        cdata_element(out, "MsgType", self.msg_type());
        match self {
            ReplyBody::Text { content } => cdata_element(out, "Content", content),
            ReplyBody::Image { media_id } => {
                wrapped(out, "Image", |out| cdata_element(out, "MediaId", media_id));
            }
            ReplyBody::Voice { media_id } => {
                wrapped(out, "Voice", |out| cdata_element(out, "MediaId", media_id));
            }
            ReplyBody::Video {
                media_id,
                title,
                description,
            } => wrapped(out, "Video", |out| {
                cdata_element(out, "MediaId", media_id);
                optional_element(out, "Title", title);
                optional_element(out, "Description", description);
            }),
            ReplyBody::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                // WxJava's order; WeChat reads the fields by name.
                wrapped(out, "Music", |out| {
                    optional_element(out, "Title", title);
                    optional_element(out, "Description", description);
                    cdata_element(out, "ThumbMediaId", thumb_media_id);
                    optional_element(out, "MusicUrl", music_url);
                    optional_element(out, "HQMusicUrl", hq_music_url);
                });
            }
            ReplyBody::News { articles } => {
                let _ = write!(out, "<ArticleCount>{}</ArticleCount>", articles.len());
                wrapped(out, "Articles", |out| {
                    for a in articles {
                        wrapped(out, "item", |out| {
                            cdata_element(out, "Title", &a.title);
                            cdata_element(out, "Description", &a.description);
                            cdata_element(out, "PicUrl", &a.pic_url);
                            cdata_element(out, "Url", &a.url);
                        });
                    }
                });
            }
            ReplyBody::TransferCustomerService { kf_account } => {
                if let Some(kf) = kf_account {
                    wrapped(out, "TransInfo", |out| cdata_element(out, "KfAccount", kf));
                }
            }
        }
        out.push_str("</xml>");
    }
}

impl<'a> Reply<'a> {
    /// Appends the response body to `out`: `success`, or the reply message's XML.
    pub fn write_xml(&self, out: &mut String) {
        match self {
            Reply::Success => out.push_str("success"),
            Reply::Message(m) => m.write_xml(out),
        }
    }

    pub fn to_xml(&self) -> String {
        match self {
            Reply::Success => "success".to_string(),
            Reply::Message(m) => m.to_xml(),
        }
    }

    /// Reads a reply back (the sandbox and the tests use it to check what we answered).
    pub fn parse(xml: &'a str) -> Result<Self, ParseError> {
        if xml.trim() == "success" {
            return Ok(Reply::Success);
        }
        let mut f = Fields::parse(xml)?;
        let header = |f: &mut Fields<'a>, name: &'static str| {
            f.take(name).ok_or(ParseError::MissingField(name))
        };
        let to_user_name = header(&mut f, "ToUserName")?;
        let from_user_name = header(&mut f, "FromUserName")?;
        let create_time = header(&mut f, "CreateTime")?
            .parse()
            .map_err(|_| ParseError::InvalidNumber("CreateTime"))?;
        let msg_type = header(&mut f, "MsgType")?;
        let body = parse_body(&msg_type, &f)?;
        Ok(Reply::Message(ReplyMessage {
            to_user_name,
            from_user_name,
            create_time,
            body,
        }))
    }
}

fn parse_body<'a>(msg_type: &str, f: &Fields<'a>) -> Result<ReplyBody<'a>, ParseError> {
    let nested = |top: &str, name: &str| f.nested_value(top, name).cloned();
    let text = |name: &str| f.value(name).cloned();
    Ok(match msg_type {
        "text" => ReplyBody::Text {
            content: text("Content").unwrap_or_default(),
        },
        "image" => ReplyBody::Image {
            media_id: nested("Image", "MediaId").unwrap_or_default(),
        },
        "voice" => ReplyBody::Voice {
            media_id: nested("Voice", "MediaId").unwrap_or_default(),
        },
        "video" => ReplyBody::Video {
            media_id: nested("Video", "MediaId").unwrap_or_default(),
            title: nested("Video", "Title"),
            description: nested("Video", "Description"),
        },
        "music" => ReplyBody::Music {
            title: nested("Music", "Title"),
            description: nested("Music", "Description"),
            music_url: nested("Music", "MusicUrl"),
            hq_music_url: nested("Music", "HQMusicUrl"),
            thumb_media_id: nested("Music", "ThumbMediaId").unwrap_or_default(),
        },
        "news" => ReplyBody::News {
            articles: f
                .groups("Articles")
                .map(|item| {
                    let get = |name| group_value(item, name).cloned().unwrap_or_default();
                    Article {
                        title: get("Title"),
                        description: get("Description"),
                        pic_url: get("PicUrl"),
                        url: get("Url"),
                    }
                })
                .collect(),
        },
        "transfer_customer_service" => ReplyBody::TransferCustomerService {
            kf_account: nested("TransInfo", "KfAccount"),
        },
        _ => return Err(ParseError::UnknownReplyType(msg_type.to_string())),
    })
}

/// The most bytes [`write_header`] writes for these names when neither holds `]]>` (then
/// it writes a few more): its markup and the longest time. A buffer sized with this takes
/// the header without growing; 110 bytes had been assumed, three short, so every prepared
/// reply's buffer was grown (copied into one twice the size) as its body went in.
fn header_len(to_user_name: &str, from_user_name: &str) -> usize {
    const MARKUP: usize = "<ToUserName><![CDATA[".len()
        + "]]></ToUserName><FromUserName><![CDATA[".len()
        + "]]></FromUserName><CreateTime>".len()
        + "</CreateTime>".len();
    const LONGEST_TIME: usize = "-9223372036854775808".len();
    MARKUP + LONGEST_TIME + to_user_name.len() + from_user_name.len()
}

fn write_header(out: &mut String, to_user_name: &str, from_user_name: &str, create_time: i64) {
    if find_cdata_end(to_user_name).is_some() || find_cdata_end(from_user_name).is_some() {
        cdata_element(out, "ToUserName", to_user_name);
        cdata_element(out, "FromUserName", from_user_name);
        out.push_str("<CreateTime>");
    } else {
        // The same bytes in five pieces rather than fifteen: every callback writes a header.
        out.push_str("<ToUserName><![CDATA[");
        out.push_str(to_user_name);
        out.push_str("]]></ToUserName><FromUserName><![CDATA[");
        out.push_str(from_user_name);
        out.push_str("]]></FromUserName><CreateTime>");
    }
    out.push_str(itoa::Buffer::new().format(create_time));
    out.push_str("</CreateTime>");
}

/// What follows, in `xml`, the header [`write_header`] writes with these values; `None` when
/// `xml` does not start with exactly that. Compared piece by piece rather than written out.
fn after_header<'x>(
    xml: &'x str,
    to_user_name: &str,
    from_user_name: &str,
    create_time: i64,
) -> Option<&'x str> {
    let rest = after_cdata_element(xml, "ToUserName", to_user_name)?;
    let rest = after_cdata_element(rest, "FromUserName", from_user_name)?;
    let rest = rest.strip_prefix("<CreateTime>")?;
    let rest = rest.strip_prefix(itoa::Buffer::new().format(create_time))?;
    rest.strip_prefix("</CreateTime>")
}

/// What follows the element [`cdata_element`] writes for `name` and `value` at the start of
/// `s`.
fn after_cdata_element<'x>(s: &'x str, name: &str, value: &str) -> Option<&'x str> {
    if find_cdata_end(value).is_some() {
        // Written split; never an openid or an account's id WeChat gives out.
        let mut element = String::new();
        cdata_element(&mut element, name, value);
        return s.strip_prefix(element.as_str());
    }
    let rest = s.strip_prefix('<')?.strip_prefix(name)?.strip_prefix(">")?;
    let rest = rest.strip_prefix("<![CDATA[")?.strip_prefix(value)?;
    rest.strip_prefix("]]></")?
        .strip_prefix(name)?
        .strip_prefix('>')
}

/// Where a reply kept without its header starts: a whole reply message's XML starts with
/// `<xml><ToUserName>`, never with this.
const HEADERLESS: &str = "<xml><MsgType>";

/// A reply as a log keeps it beside the message it answers: the reply message's XML without
/// its header (`ToUserName`, `FromUserName`, `CreateTime`: ~150 bytes with a 28-character
/// openid, more than half of a short text reply), which the message's sender and account and
/// the time of the answer give back ([`with_header`]). Only a header exactly as
/// [`ReplyMessage::answering`] `inbound` at `create_time` writes it is left out; anything else
/// (`success`, a reply written some other way) comes back as it is.
pub fn without_header<'x>(xml: &'x str, inbound: &Message<'_>, create_time: i64) -> Cow<'x, str> {
    let kept = xml.strip_prefix("<xml>").and_then(|rest| {
        after_header(
            rest,
            &inbound.from_user_name,
            &inbound.to_user_name,
            create_time,
        )
    });
    match kept {
        Some(rest) if rest.starts_with("<MsgType>") => {
            let mut out = String::with_capacity("<xml>".len() + rest.len());
            out.push_str("<xml>");
            out.push_str(rest);
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(xml),
    }
}

/// The reply [`without_header`] kept (its tags possibly shortened as well, by
/// [`crate::kept::markup`]), whole again: the header of a reply from `from_user_name` (the
/// account) to `to_user_name` (the follower) at `create_time` put back. Anything else comes
/// back as it is.
pub fn with_header<'x>(
    kept: &'x str,
    to_user_name: &str,
    from_user_name: &str,
    create_time: i64,
) -> Cow<'x, str> {
    let kept = crate::kept::whole(kept);
    match kept.strip_prefix(HEADERLESS) {
        Some(rest) => {
            let mut out = String::with_capacity(
                "<xml>".len() + header_len(to_user_name, from_user_name) + kept.len(),
            );
            out.push_str("<xml>");
            write_header(&mut out, to_user_name, from_user_name, create_time);
            out.push_str("<MsgType>");
            out.push_str(rest);
            Cow::Owned(out)
        }
        None => kept,
    }
}

/// A reply body written once for every message it answers (a reply rule's, a menu's): the
/// XML after its header, and the form a log keeps ([`without_header`], then
/// [`crate::kept::markup`]). Answering with it writes only the header, where writing the
/// body again, stripping the header off a copy for the log and shortening that copy's tags
/// took a keyword hit's callback ~3,200 instructions of its ~44,500 (BENCHMARKS.md,
/// callback, thirty-first round).
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedReply {
    body: ReplyBody<'static>,
    to_message: Written,
    /// An event's reply, where it differs from a message's: news of more articles than a
    /// message shows ([`news_article_limit`]).
    to_event: Option<Written>,
}

#[derive(Debug, Clone, PartialEq)]
struct Written {
    /// From `<MsgType>` to `</xml>`.
    after_header: Box<str>,
    /// As a log keeps it: `<xml>` and `after_header`, tags shortened.
    kept: std::sync::Arc<str>,
}

impl Written {
    fn of(body: &ReplyBody<'_>, article_limit: usize) -> Written {
        let mut after_header = String::new();
        match body {
            ReplyBody::News { articles } if articles.len() > article_limit => ReplyBody::News {
                articles: articles[..article_limit].to_vec(),
            }
            .write_after_header(&mut after_header),
            _ => body.write_after_header(&mut after_header),
        }
        let headerless = format!("<xml>{after_header}");
        Written {
            kept: crate::kept::markup(&headerless).into(),
            after_header: after_header.into(),
        }
    }
}

/// What [`PreparedReply::answer`] gives: the reply for the wire, and as a log keeps it.
#[derive(Debug)]
pub struct PreparedAnswer<'p> {
    pub xml: String,
    pub kept: &'p std::sync::Arc<str>,
}

impl PreparedReply {
    pub fn new(body: ReplyBody<'static>) -> PreparedReply {
        let to_message = Written::of(&body, 1);
        let to_event = match &body {
            ReplyBody::News { articles } if articles.len() > 1 => {
                Some(Written::of(&body, EVENT_ARTICLE_LIMIT))
            }
            _ => None,
        };
        PreparedReply {
            body,
            to_message,
            to_event,
        }
    }

    /// The body as given (news not cut).
    pub fn body(&self) -> &ReplyBody<'static> {
        &self.body
    }

    /// The reply to `inbound` at `create_time`: the same XML as
    /// [`ReplyMessage::answering`] writes with the body cut to what `inbound` shows, and
    /// that XML as [`without_header`] and [`crate::kept::markup`] leave it.
    pub fn answer(&self, inbound: &Message<'_>, create_time: i64) -> PreparedAnswer<'_> {
        let written = match (&self.to_event, news_article_limit(inbound)) {
            (Some(to_event), limit) if limit > 1 => to_event,
            _ => &self.to_message,
        };
        let (to, from) = (&inbound.from_user_name, &inbound.to_user_name);
        let mut xml = String::with_capacity(
            "<xml>".len() + header_len(to, from) + written.after_header.len(),
        );
        xml.push_str("<xml>");
        write_header(&mut xml, to, from, create_time);
        xml.push_str(&written.after_header);
        PreparedAnswer {
            xml,
            kept: &written.kept,
        }
    }
}

fn wrapped(out: &mut String, name: &str, inner: impl FnOnce(&mut String)) {
    start_tag(out, name);
    inner(out);
    end_tag(out, name);
}

// Tags are pushed piece by piece rather than with `write!`: the formatting machinery took
// most of a reply's writing time, which every callback pays (BENCHMARKS.md, eleventh round).
fn start_tag(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn end_tag(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn optional_element(out: &mut String, name: &str, value: &Option<Cow<'_, str>>) {
    if let Some(v) = value {
        cdata_element(out, name, v);
    }
}

/// `<name><![CDATA[value]]></name>`, splitting the section at every `]]>` in `value`.
pub fn cdata_element(out: &mut String, name: &str, value: &str) {
    // `<name><![CDATA[` and `]]></name>`: one growth of `out` at most for the common case.
    out.reserve(2 * name.len() + value.len() + 17);
    start_tag(out, name);
    out.push_str("<![CDATA[");
    let mut rest = value;
    while let Some(at) = find_cdata_end(rest) {
        // Close the section after `]]` and reopen it before `>`.
        out.push_str(&rest[..at + 2]);
        out.push_str("]]><![CDATA[");
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out.push_str("]]>");
    end_tag(out, name);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbound(from: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
             <CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content>\
             <MsgId>7</MsgId></xml>"
        )
    }

    #[test]
    fn a_reply_kept_without_its_header_comes_back_whole() {
        let bodies = [
            ReplyBody::Text {
                content: "第 6 条 ]]> 回复".into(),
            },
            ReplyBody::Image {
                media_id: "m".into(),
            },
            ReplyBody::News {
                articles: vec![Article {
                    title: "t".into(),
                    description: "d".into(),
                    pic_url: "p".into(),
                    url: "u".into(),
                }],
            },
            ReplyBody::TransferCustomerService { kf_account: None },
        ];
        // An openid that needs its CDATA section split, too.
        for from in ["o_user", "o]]>odd"] {
            let xml = inbound(from);
            let msg = Message::parse(&xml).expect("parses");
            for body in &bodies {
                let whole = ReplyMessage::answering(&msg, 1_700_000_123, body.clone()).to_xml();
                let kept = without_header(&whole, &msg, 1_700_000_123);
                assert!(kept.starts_with(HEADERLESS), "{kept}");
                assert!(kept.len() + 80 < whole.len(), "{kept}");
                let back =
                    with_header(&kept, &msg.from_user_name, &msg.to_user_name, 1_700_000_123);
                assert_eq!(back, whole);
                // As the SQLite log keeps it: its tags shortened too.
                let short = crate::kept::markup(&kept);
                assert!(short.len() < kept.len(), "{short:?}");
                let back = with_header(
                    &short,
                    &msg.from_user_name,
                    &msg.to_user_name,
                    1_700_000_123,
                );
                assert_eq!(back, whole);
            }
        }
    }

    #[test]
    fn only_the_header_answering_writes_is_left_out() {
        let xml = inbound("o_user");
        let msg = Message::parse(&xml).expect("parses");
        let whole = ReplyMessage::answering(
            &msg,
            5,
            ReplyBody::Text {
                content: "x".into(),
            },
        )
        .to_xml();
        // Another time, another follower: kept whole, and whole it comes back.
        assert!(matches!(without_header(&whole, &msg, 6), Cow::Borrowed(_)));
        let other_xml = inbound("o_other");
        let other = Message::parse(&other_xml).expect("parses");
        assert!(matches!(
            without_header(&whole, &other, 5),
            Cow::Borrowed(_)
        ));
        assert_eq!(with_header(&whole, "o_other", "gh_2", 9), whole);
        assert_eq!(without_header("success", &msg, 5), "success");
        assert_eq!(with_header("success", "o_user", "gh_1", 5), "success");
    }

    fn text_reply(content: &str) -> ReplyMessage<'_> {
        ReplyMessage {
            to_user_name: "u".into(),
            from_user_name: "gh".into(),
            create_time: 1,
            body: ReplyBody::Text {
                content: content.into(),
            },
        }
    }

    #[test]
    fn cdata_terminator_is_split() {
        for content in ["a]]>b", "]]>", "]]]]>>", "x]]>]]>y", "]]", "]>"] {
            let xml = text_reply(content).to_xml();
            assert_eq!(
                xml.matches("<![CDATA[").count(),
                xml.matches("]]>").count(),
                "{xml}"
            );
            let back = Reply::parse(&xml).expect("parses");
            assert_eq!(back, Reply::Message(text_reply(content)), "{xml}");
        }
    }

    #[test]
    fn answering_swaps_sender_and_receiver() {
        let inbound = Message::parse(
            "<xml><ToUserName>gh_1</ToUserName><FromUserName>o_user</FromUserName>\
             <CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content>\
             <MsgId>7</MsgId></xml>",
        )
        .expect("parses");
        let reply = ReplyMessage::answering(
            &inbound,
            2,
            ReplyBody::Text {
                content: "yo".into(),
            },
        );
        assert_eq!(reply.to_user_name, "o_user");
        assert_eq!(reply.from_user_name, "gh_1");
        assert_eq!(news_article_limit(&inbound), 1);
    }

    /// Every callback answered with a prepared reply pays for its buffer: sized from the
    /// header's length, it takes the reply without growing (growth doubles it, copying).
    #[test]
    fn a_prepared_answer_and_a_whole_reply_are_written_without_growing() {
        let prepared = PreparedReply::new(ReplyBody::Text {
            content: "收到，我们会尽快回复您。".into(),
        });
        for (from, time) in [
            ("o_user", 0),
            ("oBenchFollower00000000000001", 1_700_000_123),
        ] {
            let xml = inbound(from);
            let msg = Message::parse(&xml).expect("parses");
            for time in [time, i64::MIN, i64::MAX] {
                let answer = prepared.answer(&msg, time);
                let spare = answer.xml.capacity() - answer.xml.len();
                assert!(spare <= 20, "{spare} bytes spare: the buffer grew");
                let back = with_header(answer.kept, &msg.from_user_name, &msg.to_user_name, time)
                    .into_owned();
                assert_eq!(back, answer.xml);
                let spare = back.capacity() - back.len();
                assert!(spare <= 25, "{spare} bytes spare: the buffer grew");
            }
        }
    }

    #[test]
    fn success_is_the_literal() {
        assert_eq!(Reply::Success.to_xml(), "success");
        assert_eq!(Reply::parse("success"), Ok(Reply::Success));
    }
}
