//! A message's XML as a log keeps it beside columns that already hold its sender and its
//! time: without the `<FromUserName>` and `<CreateTime>` elements (~100 bytes with a
//! 28-character openid, a third of a short text message), which [`with_sender`] puts back
//! byte for byte from the same two values.
//!
//! Each element is replaced where it first occurs by a two-byte mark, and the kept text
//! starts with the mark's first byte. That byte (U+0001) is never the first of a message
//! WeChat sends (XML begins with `<`, a blank or a byte-order mark) and a body that holds it
//! anywhere is kept as it is, so a kept text is told from a whole one by its first byte, and
//! each mark stands for exactly one element. (A text starting with that byte is no message:
//! it does not parse, so the callback never logs one.) Only an element written exactly as
//! the values give it (the openid in one CDATA section, the time in plain digits) is left
//! out; a body without both comes back unchanged.

use std::borrow::Cow;
use std::ops::Range;

/// Starts a kept text, and each mark in it.
const MARK: char = '\u{1}';
const SENDER_MARK: &str = "\u{1}F";
const TIME_MARK: &str = "\u{1}T";
const SENDER: (&str, &str) = ("<FromUserName><![CDATA[", "]]></FromUserName>");
const TIME: (&str, &str) = ("<CreateTime>", "</CreateTime>");

/// The message XML without its sender's and its time's elements, when `from_user_name` and
/// `create_time` (Unix seconds) write them as the XML does; otherwise the XML as it is.
pub fn without_sender<'x>(xml: &'x str, from_user_name: &str, create_time: i64) -> Cow<'x, str> {
    if xml.contains(MARK) {
        return Cow::Borrowed(xml);
    }
    let mut digits = itoa::Buffer::new();
    let time = digits.format(create_time);
    let (Some(sender), Some(stamp)) = (
        find_element(xml, SENDER, from_user_name),
        find_element(xml, TIME, time),
    ) else {
        return Cow::Borrowed(xml);
    };
    // Both elements as they stand in `xml`, in document order, each with its mark.
    let mut parts = [(sender, SENDER_MARK), (stamp, TIME_MARK)];
    parts.sort_unstable_by_key(|(range, _)| range.start);
    if parts[0].0.end > parts[1].0.start {
        // Overlapping matches cannot both be elements of the same document.
        return Cow::Borrowed(xml);
    }
    let mut out = String::with_capacity(xml.len());
    out.push(MARK);
    let mut from = 0;
    for (range, mark) in parts {
        out.push_str(&xml[from..range.start]);
        out.push_str(mark);
        from = range.end;
    }
    out.push_str(&xml[from..]);
    Cow::Owned(out)
}

/// The XML [`without_sender`] kept, whole again: the elements of `from_user_name` and
/// `create_time` put back where their marks are. A text that was kept whole comes back as
/// it is.
pub fn with_sender<'x>(kept: &'x str, from_user_name: &str, create_time: i64) -> Cow<'x, str> {
    let Some(rest) = kept.strip_prefix(MARK) else {
        return Cow::Borrowed(kept);
    };
    let mut digits = itoa::Buffer::new();
    let time = digits.format(create_time);
    let mut out = String::with_capacity(rest.len() + 64 + from_user_name.len());
    let mut from = 0;
    while let Some(at) = rest[from..].find(MARK).map(|i| from + i) {
        out.push_str(&rest[from..at]);
        let ((open, close), value) = if rest[at..].starts_with(SENDER_MARK) {
            (SENDER, from_user_name)
        } else if rest[at..].starts_with(TIME_MARK) {
            (TIME, time)
        } else {
            // Not a mark this module writes: kept as it stands.
            out.push(MARK);
            from = at + MARK.len_utf8();
            continue;
        };
        out.push_str(open);
        out.push_str(value);
        out.push_str(close);
        from = at + SENDER_MARK.len();
    }
    out.push_str(&rest[from..]);
    Cow::Owned(out)
}

/// Where `open`, `value`, `close` first stand one after the other in `xml`.
fn find_element(xml: &str, (open, close): (&str, &str), value: &str) -> Option<Range<usize>> {
    xml.match_indices(open).find_map(|(at, _)| {
        let after_value = xml[at + open.len()..].strip_prefix(value)?;
        after_value
            .starts_with(close)
            .then(|| at..xml.len() - after_value.len() + close.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPENID: &str = "oBenchFollower00000000000496";
    const TEXT: &str = "<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\
        <FromUserName><![CDATA[oBenchFollower00000000000496]]></FromUserName>\
        <CreateTime>1796461942</CreateTime><MsgType><![CDATA[text]]></MsgType>\
        <Content><![CDATA[营业时间]]></Content><MsgId>1000000010000828496</MsgId></xml>";

    #[test]
    fn a_text_message_is_kept_without_its_sender_and_time_and_given_back_whole() {
        let kept = without_sender(TEXT, OPENID, 1_796_461_942);
        assert_eq!(
            kept,
            "\u{1}<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\u{1}F\u{1}T\
             <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[营业时间]]></Content>\
             <MsgId>1000000010000828496</MsgId></xml>"
        );
        assert_eq!(TEXT.len() - kept.len(), 99);
        assert_eq!(with_sender(&kept, OPENID, 1_796_461_942), TEXT);
    }

    #[test]
    fn wechat_s_line_breaks_and_elements_in_another_order_are_kept_as_they_are() {
        let xml = "<xml>\n<CreateTime>1348831860</CreateTime>\n<ToUserName><![CDATA[gh_1]]>\
                   </ToUserName>\n<FromUserName><![CDATA[oUser]]></FromUserName>\n\
                   <MsgType><![CDATA[event]]></MsgType>\n</xml>";
        let kept = without_sender(xml, "oUser", 1_348_831_860);
        assert!(kept.len() < xml.len() - 50, "{kept}");
        assert_eq!(with_sender(&kept, "oUser", 1_348_831_860), xml);
    }

    #[test]
    fn anything_not_written_as_the_values_give_it_is_kept_whole() {
        // Another sender, another time, the openid outside CDATA, a time with blanks.
        for (openid, time) in [("oOther", 1_796_461_942), (OPENID, 1_796_461_943)] {
            assert_eq!(without_sender(TEXT, openid, time), Cow::Borrowed(TEXT));
        }
        let plain = TEXT.replace("<![CDATA[oBenchFollower00000000000496]]>", OPENID);
        assert!(matches!(
            without_sender(&plain, OPENID, 1_796_461_942),
            Cow::Borrowed(_)
        ));
        let blanks = TEXT.replace(">1796461942<", "> 1796461942 <");
        assert!(matches!(
            without_sender(&blanks, OPENID, 1_796_461_942),
            Cow::Borrowed(_)
        ));
    }

    /// A whole body is told from a kept one by its first byte, so none may start with it.
    #[test]
    fn a_message_starting_with_the_mark_does_not_parse() {
        assert!(crate::Message::parse(&format!("\u{1}{TEXT}")).is_err());
    }

    #[test]
    fn a_body_holding_the_mark_is_kept_whole_and_a_whole_body_reads_back_as_it_is() {
        let marked = TEXT.replace("营业时间", "\u{1}F\u{1}T");
        assert!(matches!(
            without_sender(&marked, OPENID, 1_796_461_942),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            with_sender(TEXT, OPENID, 1_796_461_942),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_sender_element_quoted_in_the_content_still_comes_back_where_it_was() {
        let quoted = TEXT.replace(
            "营业时间",
            "<FromUserName><![CDATA[oBenchFollower00000000000496]]></FromUserName>",
        );
        let kept = without_sender(&quoted, OPENID, 1_796_461_942);
        assert_eq!(with_sender(&kept, OPENID, 1_796_461_942), quoted);
    }

    proptest! {
        /// Whatever the text around them, what is kept comes back byte for byte (a text
        /// that starts with the mark is no message: see the test above).
        #[test]
        fn what_is_kept_comes_back_whole(
            before in "([a-z<>\\[\\]\u{4e00}][a-z<>\\[\\]\u{1}\u{4e00}]{0,11})?",
            between in "[a-z<>FT\u{1}]{0,12}",
            after in "[a-z<>\u{1}]{0,12}",
            openid in "[A-Za-z0-9_\\-]{1,32}",
            time in any::<i64>(),
            time_first in any::<bool>(),
        ) {
            let sender = format!("{}{openid}{}", SENDER.0, SENDER.1);
            let stamp = format!("{}{time}{}", TIME.0, TIME.1);
            let (first, second) = if time_first { (&stamp, &sender) } else { (&sender, &stamp) };
            let xml = format!("{before}{first}{between}{second}{after}");
            let kept = without_sender(&xml, &openid, time);
            prop_assert_eq!(with_sender(&kept, &openid, time), xml.as_str());
            if !xml.contains(MARK) {
                prop_assert!(kept.len() < xml.len());
            }
        }
    }
}
