//! What the callback answers and how a message is named in the log: pure rules.

use wechat::message::Event;
use wechat::{Message, MessageBody, PreparedReply, Reply, ReplyBody, ReplyMessage};

/// An account's most frequent plain texts written once as replies, by text: the welcome, the
/// default reply and the hand-off reply (a channel's welcome, answered at a follow through
/// its code, is written when used).
pub type PreparedTexts =
    std::collections::HashMap<String, PreparedReply, foldhash::fast::RandomState>;

/// [`PreparedTexts`] of `texts`; an empty text answers `success` and is left out.
pub fn prepared_texts<'t>(texts: impl IntoIterator<Item = &'t str>) -> PreparedTexts {
    texts
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            let body = ReplyBody::Text {
                content: t.to_string().into(),
            };
            (t.to_string(), PreparedReply::new(body))
        })
        .collect()
}

/// The log's name for a message: its `MsgType`, or `event:<name>` in lower case for events
/// (WeChat spells some events in upper case).
pub fn kind_of(msg: &Message<'_>) -> String {
    match msg.event() {
        Some(e) => format!("event:{}", e.name().to_ascii_lowercase()),
        None => msg.msg_type().to_ascii_lowercase(),
    }
}

/// How the live messages page names a message: a label key and the detail the follower
/// sent (their text, the menu key, the QR scene …).
pub fn describe(msg: &Message<'_>) -> (&'static str, String) {
    match &msg.body {
        MessageBody::Text(t) => ("msgkind.text", t.content.to_string()),
        MessageBody::Image(_) => ("msgkind.image", String::new()),
        MessageBody::Voice(v) => (
            "msgkind.voice",
            v.recognition.as_deref().unwrap_or_default().to_string(),
        ),
        MessageBody::Video(_) | MessageBody::ShortVideo(_) => ("msgkind.video", String::new()),
        MessageBody::Location(l) => ("msgkind.location", l.label.to_string()),
        MessageBody::Link(l) => ("msgkind.link", l.title.to_string()),
        MessageBody::MiniProgramPage(_) => ("msgkind.miniprogram", String::new()),
        MessageBody::Event(e) => describe_event(e),
        MessageBody::Unknown { msg_type, .. } => ("msgkind.other", msg_type.to_string()),
    }
}

fn describe_event(e: &Event<'_>) -> (&'static str, String) {
    let key = e.event_key().unwrap_or_default().to_string();
    match e {
        Event::Subscribe { .. } => (
            "msgkind.subscribe",
            e.qr_scene().unwrap_or_default().to_string(),
        ),
        Event::Unsubscribe => ("msgkind.unsubscribe", String::new()),
        Event::Scan { .. } => ("msgkind.scan", key),
        Event::Location {
            latitude,
            longitude,
            ..
        } => (
            "msgkind.report_location",
            format!("{latitude:.5}, {longitude:.5}"),
        ),
        Event::Click { .. } => ("msgkind.click", key),
        Event::View { .. } => ("msgkind.view", key),
        _ => ("msgkind.event", e.name().to_string()),
    }
}

/// The text of a reply we gave, for display; empty for `success`.
pub fn reply_text(reply_xml: &str) -> String {
    // The header (who, to whom, when) is not shown: any will do for a reply kept without it.
    let whole = wechat::reply::with_header(reply_xml, "", "", 0);
    match Reply::parse(&whole) {
        Ok(Reply::Message(m)) => match m.body {
            ReplyBody::Text { content } => content.into_owned(),
            other => format!("[{}]", other.msg_type()),
        },
        _ => String::new(),
    }
}

/// An account's answers until reply rules exist (the rule engine plugs in here later).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasicReplies {
    pub welcome_text: String,
    pub default_reply_text: String,
    /// The welcomes of the account's channel QR codes, by scene (channels/): a follow or a
    /// scan through a channel's code answers its welcome. One hash lookup on the hot path.
    pub channel_welcomes: std::collections::HashMap<String, String>,
}

/// The text to answer `msg` with, if any: for a follow, its channel's welcome or else the
/// account's; for a scan by a follower, its channel's welcome if it has one; the default
/// reply for any other text message; nothing for everything else.
pub fn basic_answer<'r>(msg: &Message<'_>, replies: &'r BasicReplies) -> Option<&'r str> {
    let channel = || {
        msg.event()
            .and_then(|e| e.qr_scene())
            .and_then(|scene| replies.channel_welcomes.get(scene))
    };
    let text = match &msg.body {
        MessageBody::Event(Event::Subscribe { .. }) => channel().unwrap_or(&replies.welcome_text),
        MessageBody::Event(Event::Scan { .. }) => channel()?,
        MessageBody::Text(_) => &replies.default_reply_text,
        _ => return None,
    };
    (!text.is_empty()).then_some(text.as_str())
}

/// The passive reply as WeChat expects it (plaintext XML, or `success`).
pub fn reply_xml(msg: &Message<'_>, answer: Option<&str>, now_secs: i64) -> String {
    match answer {
        None => Reply::Success.to_xml(),
        Some(content) => ReplyMessage::answering(
            msg,
            now_secs,
            ReplyBody::Text {
                content: content.into(),
            },
        )
        .to_xml(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_text_answers_as_the_text_written_out() {
        let texts = prepared_texts(["欢迎", "", "收到"]);
        assert_eq!(texts.len(), 2, "the empty text answers success");
        let msg = parse(TEXT);
        for t in ["欢迎", "收到"] {
            let answer = texts[t].answer(&msg, 1_700_000_100);
            assert_eq!(answer.xml, reply_xml(&msg, Some(t), 1_700_000_100));
        }
    }

    fn parse(xml: &str) -> Message<'_> {
        Message::parse(xml).expect("valid message")
    }

    const TEXT: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content><MsgId>42</MsgId></xml>";
    const FOLLOW: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";
    const CLICK: &str = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[k]]></EventKey></xml>";

    fn replies() -> BasicReplies {
        BasicReplies {
            welcome_text: "欢迎".into(),
            default_reply_text: "收到".into(),
            channel_welcomes: [("poster".to_string(), "海报欢迎".to_string())].into(),
        }
    }

    #[test]
    fn channel_codes_answer_their_own_welcome() {
        let r = replies();
        let via = |event: &str, key: &str| {
            format!(
                "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
            )
        };
        let follow = via("subscribe", "qrscene_poster");
        assert_eq!(basic_answer(&parse(&follow), &r), Some("海报欢迎"));
        let other = via("subscribe", "qrscene_7");
        assert_eq!(basic_answer(&parse(&other), &r), Some("欢迎"));
        let scan = via("SCAN", "poster");
        assert_eq!(basic_answer(&parse(&scan), &r), Some("海报欢迎"));
        let scan = via("SCAN", "7");
        assert_eq!(basic_answer(&parse(&scan), &r), None);
    }

    #[test]
    fn kinds_name_messages_and_events_in_lower_case() {
        assert_eq!(kind_of(&parse(TEXT)), "text");
        assert_eq!(kind_of(&parse(FOLLOW)), "event:subscribe");
        assert_eq!(kind_of(&parse(CLICK)), "event:click");
    }

    #[test]
    fn follows_get_the_welcome_and_text_the_default() {
        let r = replies();
        assert_eq!(basic_answer(&parse(FOLLOW), &r), Some("欢迎"));
        assert_eq!(basic_answer(&parse(TEXT), &r), Some("收到"));
        assert_eq!(basic_answer(&parse(CLICK), &r), None);
        assert_eq!(basic_answer(&parse(TEXT), &BasicReplies::default()), None);
    }

    #[test]
    fn messages_are_described_for_people() {
        assert_eq!(describe(&parse(TEXT)), ("msgkind.text", "你好".to_string()));
        assert_eq!(describe(&parse(CLICK)), ("msgkind.click", "k".to_string()));
        assert_eq!(describe(&parse(FOLLOW)).0, "msgkind.subscribe");
        let xml = reply_xml(&parse(TEXT), Some("收到"), 1);
        assert_eq!(reply_text(&xml), "收到");
        assert_eq!(reply_text("success"), "");
    }

    #[test]
    fn replies_swap_sender_and_receiver() {
        let msg = parse(TEXT);
        let xml = reply_xml(&msg, Some("收到"), 1_700_000_001);
        assert!(xml.contains("<ToUserName><![CDATA[o1]]></ToUserName>"));
        assert!(xml.contains("<FromUserName><![CDATA[gh_1]]></FromUserName>"));
        assert!(xml.contains("收到"));
        assert_eq!(reply_xml(&msg, None, 0), "success");
    }
}
