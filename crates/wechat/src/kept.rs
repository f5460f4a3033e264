//! WeChat's XML as a log keeps it: shorter, and given back byte for byte.
//!
//! A logged message or reply is mostly markup that every row repeats (`<Content><![CDATA[`,
//! `]]></MsgType>`, …) and, for a message, a sender and a time that the row's own columns
//! already hold. Every byte of a row is copied by SQLite, written to its WAL, read back and
//! written again by the checkpoint (BENCHMARKS.md, twenty-sixth and twenty-seventh rounds),
//! so the log keeps:
//!
//! - each tag of an element this module knows ([`NAMES`]) as two bytes, a code and the
//!   name's number: `<Name><![CDATA[`, `]]></Name>`, `<Name>` and `</Name>` each have their
//!   own code;
//! - for a message, its `<FromUserName>` and `<CreateTime>` elements, when written as the
//!   row's openid and time give them, as two bytes each, which [`whole_message`] puts back
//!   from the same two values.
//!
//! A kept text starts with U+0001. No message or reply WeChat's XML starts with it (XML
//! begins with `<`, a blank or a byte-order mark; a text that starts with it does not parse),
//! and a text that holds any of the codes' bytes (U+0001 to U+0005) anywhere is kept as it
//! is, so every code in a kept text is one this module wrote and a kept text is told from a
//! whole one by its first byte. Markup is matched wherever it stands, in a user's text too:
//! each code stands for exactly the bytes it replaced, so what comes back is what went in.
//! The names' numbers are stored: [`NAMES`] only ever grows at its end.

use std::borrow::Cow;

/// Starts a kept text; followed by `F` or `T`, the sender's or the time's element.
const MARK: u8 = 0x01;
/// `<Name><![CDATA[`
const OPEN_CDATA: u8 = 0x02;
/// `]]></Name>`
const CLOSE_CDATA: u8 = 0x03;
/// `<Name>`
const OPEN: u8 = 0x04;
/// `</Name>`
const CLOSE: u8 = 0x05;
const SENDER: u8 = b'F';
const TIME: u8 = b'T';
const SENDER_ELEMENT: (&str, &str) = ("<FromUserName><![CDATA[", "]]></FromUserName>");
const TIME_ELEMENT: (&str, &str) = ("<CreateTime>", "</CreateTime>");
/// The byte after a tag's code is this plus the name's index in [`NAMES`]: printable ASCII.
const FIRST_NAME: u8 = b' ';
const CDATA_START: &str = "<![CDATA[";

/// Lists the known names once, as [`NAMES`] and as the `match` that finds a name's code
/// (with it, and a closing tag compared first with the last opened name, packing took ~10%
/// less than with a scan of the list: BENCHMARKS.md, callback, twenty-seventh round).
macro_rules! known_names {
    ($($name:literal),* $(,)?) => {
        /// The elements whose tags are kept short, by number. Stored numbers: only ever
        /// append.
        pub const NAMES: &[&str] = &[$($name),*];

        /// The code of `name`'s tags after their code byte, and the name, if it is known.
        fn name_code(name: &str) -> Option<(u8, &'static str)> {
            match name {
                $($name => Some((const { code_of($name) }, $name)),)*
                _ => None,
            }
        }
    };
}

known_names!(
    "xml",
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Content",
    "MsgId",
    "Event",
    "EventKey",
    "Ticket",
    "PicUrl",
    "MediaId",
    "Format",
    "Recognition",
    "ThumbMediaId",
    "Location_X",
    "Location_Y",
    "Scale",
    "Label",
    "Title",
    "Description",
    "Url",
    "Latitude",
    "Longitude",
    "Precision",
    "MsgDataId",
    "Idx",
    "MenuId",
    "Image",
    "Voice",
    "Video",
    "Music",
    "MusicUrl",
    "HQMusicUrl",
    "ArticleCount",
    "Articles",
    "item",
    "ScanCodeInfo",
    "ScanType",
    "ScanResult",
    "SendPicsInfo",
    "Count",
    "PicList",
    "PicMd5Sum",
    "SendLocationInfo",
    "Poiname",
    "CardId",
    "UserCardCode",
    "IsGiveByFriend",
    "OuterStr",
    "Status",
    "TotalCount",
    "FilterCount",
    "SentCount",
    "ErrorCount",
    "KfAccount",
    "TransInfo",
    "bizmsgmenuid",
);

/// [`FIRST_NAME`] plus `name`'s index in [`NAMES`], at compile time.
const fn code_of(name: &str) -> u8 {
    let mut i = 0;
    while i < NAMES.len() {
        if same(NAMES[i].as_bytes(), name.as_bytes()) {
            assert!(i < (0x7f - FIRST_NAME) as usize, "a code is one ASCII byte");
            return FIRST_NAME + i as u8;
        }
        i += 1;
    }
    panic!("a known name is in NAMES")
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The longest name in [`NAMES`]: a tag with a longer one is not looked up.
const LONGEST_NAME: usize = 16;
const SENDER_CODE: u8 = code_of("FromUserName");
const TIME_CODE: u8 = code_of("CreateTime");

/// A message's XML as the log keeps it beside its sender's openid and its time (Unix
/// seconds): without the elements those two write, its known tags two bytes each. The XML
/// as it is when it holds a code's byte or nothing to shorten.
pub fn message<'x>(xml: &'x str, from_user_name: &str, create_time: i64) -> Cow<'x, str> {
    let mut digits = itoa::Buffer::new();
    pack(
        xml,
        Some(&Sender::of(from_user_name, create_time, &mut digits)),
    )
}

/// The XML of a reply (or any WeChat XML) as the log keeps it: its known tags two bytes
/// each. The XML as it is when it holds a code's byte or nothing to shorten (`success`).
pub fn markup(xml: &str) -> Cow<'_, str> {
    pack(xml, None)
}

/// The message [`message`] kept, whole again, from the same openid and time. A text that
/// was kept whole comes back as it is.
pub fn whole_message<'x>(kept: &'x str, from_user_name: &str, create_time: i64) -> Cow<'x, str> {
    let mut digits = itoa::Buffer::new();
    unpack(
        kept,
        Some(&Sender::of(from_user_name, create_time, &mut digits)),
    )
}

/// The XML [`markup`] kept, whole again. A text that was kept whole comes back as it is.
pub fn whole(kept: &str) -> Cow<'_, str> {
    unpack(kept, None)
}

/// The values a message's sender and time elements hold.
struct Sender<'s> {
    openid: &'s str,
    time: &'s str,
}

impl<'s> Sender<'s> {
    /// The values `openid` and `create_time` (Unix seconds) write, the time's digits in
    /// `digits`.
    fn of(openid: &'s str, create_time: i64, digits: &'s mut itoa::Buffer) -> Sender<'s> {
        Sender {
            openid,
            time: digits.format(create_time),
        }
    }
}

fn pack<'x>(xml: &'x str, sender: Option<&Sender<'_>>) -> Cow<'x, str> {
    let bytes = xml.as_bytes();
    // Branch-free, so it runs over whole vectors: a body with a code's byte is rare.
    let holds_a_code = bytes.iter().fold(false, |seen, &b| {
        seen | (b.wrapping_sub(MARK) <= CLOSE - MARK)
    });
    if holds_a_code {
        return Cow::Borrowed(xml);
    }
    let mut packer = Packer {
        sender,
        // A known name, never the empty one: `</>` must not pass for the close of nothing.
        open: (code_of("xml"), "xml"),
    };
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(at) = next_markup(bytes, from) {
        let Some((code, len)) = packer.shorthand(&xml[at..]) else {
            from = at + 1;
            continue;
        };
        if out.is_empty() {
            out.reserve(xml.len());
            out.push(char::from(MARK));
        }
        out.push_str(&xml[copied..at]);
        out.push(char::from(code[0]));
        out.push(char::from(code[1]));
        copied = at + len;
        from = copied;
    }
    if out.is_empty() {
        return Cow::Borrowed(xml);
    }
    out.push_str(&xml[copied..]);
    Cow::Owned(out)
}

/// Where the next `<` or `]` at or after `from` is. Tags mostly follow one another
/// (`]]></ToUserName><FromUserName>`): the byte at `from` is looked at before a search,
/// whose setup costs more than the rest of such a step.
fn next_markup(bytes: &[u8], from: usize) -> Option<usize> {
    match bytes.get(from)? {
        b'<' | b']' => Some(from),
        _ => memchr::memchr2(b'<', b']', &bytes[from..]).map(|i| from + i),
    }
}

struct Packer<'s> {
    sender: Option<&'s Sender<'s>>,
    /// The code and name of the tag opened last: the next closing tag is most likely its.
    open: (u8, &'static str),
}

impl Packer<'_> {
    /// The two bytes that stand for what `s` starts with, and how many bytes they stand
    /// for. `s` starts with `<` or `]`.
    fn shorthand(&mut self, s: &str) -> Option<([u8; 2], usize)> {
        if let Some(rest) = s.strip_prefix("]]></") {
            let (code, len) = self.closing(rest)?;
            return Some(([CLOSE_CDATA, code], "]]></".len() + len));
        }
        let rest = s.strip_prefix('<')?;
        if let Some(rest) = rest.strip_prefix('/') {
            let (code, len) = self.closing(rest)?;
            return Some(([CLOSE, code], "</".len() + len));
        }
        let (code, name) = name_before_gt(rest)?;
        if let Some(sender) = self.sender {
            let element = match code {
                SENDER_CODE => element_len(s, SENDER_ELEMENT, sender.openid).map(|n| (SENDER, n)),
                TIME_CODE => element_len(s, TIME_ELEMENT, sender.time).map(|n| (TIME, n)),
                _ => None,
            };
            if let Some((mark, len)) = element {
                return Some(([MARK, mark], len));
            }
        }
        self.open = (code, name);
        let tag = "<".len() + name.len() + ">".len();
        if s[tag..].starts_with(CDATA_START) {
            Some(([OPEN_CDATA, code], tag + CDATA_START.len()))
        } else {
            Some(([OPEN, code], tag))
        }
    }

    /// The code of the name a closing tag's `rest` starts with, and the length of it and its
    /// `>`.
    fn closing(&self, rest: &str) -> Option<(u8, usize)> {
        let (code, name) = self.open;
        let len = name.len() + ">".len();
        if rest.as_bytes().get(name.len()) == Some(&b'>') && rest.starts_with(name) {
            return Some((code, len));
        }
        name_before_gt(rest).map(|(code, name)| (code, name.len() + ">".len()))
    }
}

/// The code and name of the known name `s` starts with, followed by `>`.
fn name_before_gt(s: &str) -> Option<(u8, &'static str)> {
    let head = &s.as_bytes()[..s.len().min(LONGEST_NAME + 1)];
    let end = head.iter().position(|&b| b == b'>')?;
    // `>` is ASCII, so `end` is on a character's boundary.
    name_code(s.get(..end)?)
}

/// The length of `open`, `value`, `close` if `s` starts with them.
fn element_len(s: &str, (open, close): (&str, &str), value: &str) -> Option<usize> {
    let rest = s
        .strip_prefix(open)?
        .strip_prefix(value)?
        .strip_prefix(close)?;
    Some(s.len() - rest.len())
}

fn unpack<'x>(kept: &'x str, sender: Option<&Sender<'_>>) -> Cow<'x, str> {
    let Some(rest) = kept.strip_prefix(char::from(MARK)) else {
        return Cow::Borrowed(kept);
    };
    let bytes = rest.as_bytes();
    let mut out = String::with_capacity(2 * rest.len() + 64);
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let code = bytes[at];
        if code.wrapping_sub(MARK) > CLOSE - MARK {
            at += 1;
            continue;
        }
        let Some(&arg) = bytes.get(at + 1) else {
            break;
        };
        out.push_str(&rest[copied..at]);
        if expand(&mut out, code, arg, sender) {
            at += 2;
        } else {
            // Not a code this module writes: kept as it stands.
            out.push(char::from(code));
            at += 1;
        }
        copied = at;
    }
    out.push_str(&rest[copied..]);
    Cow::Owned(out)
}

/// Writes what `code` and `arg` stand for; false if they stand for nothing.
fn expand(out: &mut String, code: u8, arg: u8, sender: Option<&Sender<'_>>) -> bool {
    if code == MARK {
        let ((open, close), value) = match (sender, arg) {
            (Some(s), SENDER) => (SENDER_ELEMENT, s.openid),
            (Some(s), TIME) => (TIME_ELEMENT, s.time),
            _ => return false,
        };
        out.push_str(open);
        out.push_str(value);
        out.push_str(close);
        return true;
    }
    let Some(name) = arg
        .checked_sub(FIRST_NAME)
        .and_then(|i| NAMES.get(usize::from(i)))
    else {
        return false;
    };
    let (before, after) = match code {
        OPEN_CDATA => ("<", "><![CDATA["),
        CLOSE_CDATA => ("]]></", ">"),
        OPEN => ("<", ">"),
        _ => ("</", ">"),
    };
    out.push_str(before);
    out.push_str(name);
    out.push_str(after);
    true
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
    fn a_text_message_is_kept_in_a_third_of_its_bytes_and_given_back_whole() {
        let kept = message(TEXT, OPENID, 1_796_461_942);
        assert_eq!(
            kept,
            "\u{1}\u{4} \u{2}!gh_bench000001\u{3}!\u{1}F\u{1}T\u{2}$text\u{3}$\
             \u{2}%营业时间\u{3}%\u{4}&1000000010000828496\u{5}&\u{5} "
        );
        assert_eq!(kept.len(), 74);
        assert_eq!(TEXT.len(), 278);
        assert_eq!(whole_message(&kept, OPENID, 1_796_461_942), TEXT);
    }

    #[test]
    fn a_reply_keeps_its_tags_short() {
        let reply = "<xml><MsgType><![CDATA[news]]></MsgType><ArticleCount>1</ArticleCount>\
                     <Articles><item><Title><![CDATA[营业时间]]></Title>\
                     <Url><![CDATA[https://example.com/]]></Url></item></Articles></xml>";
        let kept = markup(reply);
        assert!(kept.len() < reply.len() / 2, "{kept:?}");
        assert_eq!(whole(&kept), reply);
        assert_eq!(markup("success"), Cow::Borrowed("success"));
        assert!(matches!(whole("success"), Cow::Borrowed(_)));
    }

    #[test]
    fn wechat_s_line_breaks_and_elements_in_another_order_are_kept_as_they_are() {
        let xml = "<xml>\n<CreateTime>1348831860</CreateTime>\n<ToUserName><![CDATA[gh_1]]>\
                   </ToUserName>\n<FromUserName><![CDATA[oUser]]></FromUserName>\n\
                   <MsgType><![CDATA[event]]></MsgType>\n<Unknown>1</Unknown></xml>";
        let kept = message(xml, "oUser", 1_348_831_860);
        assert!(kept.len() < xml.len() - 100, "{kept:?}");
        assert!(kept.contains("<Unknown>1</Unknown>"));
        assert_eq!(whole_message(&kept, "oUser", 1_348_831_860), xml);
    }

    #[test]
    fn a_sender_or_time_other_than_the_row_s_is_kept_as_written() {
        for (openid, time) in [("oOther", 1_796_461_942), (OPENID, 1_796_461_943)] {
            let kept = message(TEXT, openid, time);
            assert!(kept.contains("oBenchFollower") == (openid != OPENID));
            assert!(kept.contains("1796461942") == (time != 1_796_461_942));
            assert_eq!(whole_message(&kept, openid, time), TEXT);
        }
        let blanks = TEXT.replace(">1796461942<", "> 1796461942 <");
        let kept = message(&blanks, OPENID, 1_796_461_942);
        assert!(kept.contains(" 1796461942 "));
        assert_eq!(whole_message(&kept, OPENID, 1_796_461_942), blanks);
    }

    /// A whole text is told from a kept one by its first byte, so no message may start with
    /// it.
    #[test]
    fn a_message_starting_with_the_mark_does_not_parse() {
        assert!(crate::Message::parse(&format!("\u{1}{TEXT}")).is_err());
    }

    #[test]
    fn a_text_holding_a_code_s_byte_is_kept_whole_and_a_whole_text_reads_back_as_it_is() {
        for code in ['\u{1}', '\u{2}', '\u{3}', '\u{4}', '\u{5}'] {
            let marked = TEXT.replace("营业时间", &format!("{code}! {code}F"));
            assert!(matches!(
                message(&marked, OPENID, 1_796_461_942),
                Cow::Borrowed(_)
            ));
            assert!(matches!(markup(&marked), Cow::Borrowed(_)));
        }
        assert!(matches!(
            whole_message(TEXT, OPENID, 1_796_461_942),
            Cow::Borrowed(_)
        ));
        assert!(matches!(whole(TEXT), Cow::Borrowed(_)));
    }

    #[test]
    fn markup_quoted_in_a_user_s_text_still_comes_back_where_it_was() {
        let quoted = TEXT.replace(
            "营业时间",
            "<FromUserName><![CDATA[oBenchFollower00000000000496]]></FromUserName>]]></xml",
        );
        let kept = message(&quoted, OPENID, 1_796_461_942);
        assert_eq!(whole_message(&kept, OPENID, 1_796_461_942), quoted);
    }

    /// Rows written before tags were kept short hold only the sender's and the time's marks.
    #[test]
    fn a_text_kept_with_the_sender_s_and_time_s_marks_only_reads_back() {
        let older = "\u{1}<xml><ToUserName><![CDATA[gh_bench000001]]></ToUserName>\u{1}F\u{1}T\
             <MsgType><![CDATA[text]]></MsgType><Content><![CDATA[营业时间]]></Content>\
             <MsgId>1000000010000828496</MsgId></xml>";
        assert_eq!(whole_message(older, OPENID, 1_796_461_942), TEXT);
    }

    #[test]
    fn every_name_is_found_and_fits_its_byte() {
        assert!(NAMES.len() <= usize::from(0x7f - FIRST_NAME));
        assert_eq!(NAMES.len(), 58, "stored numbers: only append");
        assert_eq!((NAMES[0], NAMES[57]), ("xml", "bizmsgmenuid"));
        for (i, name) in NAMES.iter().enumerate() {
            assert!(name.len() <= LONGEST_NAME, "{name}");
            assert!(!name.contains('>'));
            let tag = format!("{name}>");
            assert_eq!(
                name_before_gt(&tag),
                Some((FIRST_NAME + i as u8, *name)),
                "{name}"
            );
        }
        assert_eq!(name_before_gt("Nothing>"), None);
        assert_eq!(name_before_gt("xml"), None);
    }

    /// Found by the property below: before any tag was opened, `</>` was taken for the
    /// close of an empty name and kept as a code that reads back as nothing.
    #[test]
    fn a_close_with_no_name_is_kept_as_written() {
        for xml in ["</>", "]]></>", "a</>b<xml></>"] {
            assert_eq!(whole(&markup(xml)), xml);
            assert_eq!(whole_message(&message(xml, "a", 0), "a", 0), xml);
        }
    }

    proptest! {
        /// Whatever the text, what is kept comes back byte for byte (a text that starts
        /// with the mark is no message: see the test above), and a text with markup to
        /// shorten comes out shorter.
        #[test]
        fn what_is_kept_comes_back_whole(
            pieces in prop::collection::vec(
                prop_oneof![
                    Just("<xml>".to_string()),
                    Just("</xml>".to_string()),
                    Just("<Content><![CDATA[".to_string()),
                    Just("]]></Content>".to_string()),
                    Just("<![CDATA[".to_string()),
                    Just("]]>".to_string()),
                    Just("<MsgId>".to_string()),
                    Just("</MsgId".to_string()),
                    Just("<FromUserName><![CDATA[".to_string()),
                    Just("]]></FromUserName>".to_string()),
                    Just("<CreateTime>".to_string()),
                    Just("</CreateTime>".to_string()),
                    "[a-zA-Z<>/\\[\\]!\u{1}\u{3}FT \u{4e00}]{0,6}",
                ],
                0..16,
            ),
            openid in "[A-Za-z0-9_\\-]{1,32}",
            time in any::<i64>(),
        ) {
            let xml: String = pieces.concat();
            prop_assume!(!xml.starts_with('\u{1}'));
            let kept = message(&xml, &openid, time);
            prop_assert_eq!(whole_message(&kept, &openid, time), xml.as_str());
            let kept = markup(&xml);
            prop_assert_eq!(whole(&kept), xml.as_str());
            if xml.contains("<xml>") && !xml.contains(['\u{1}', '\u{3}']) {
                prop_assert!(kept.len() < xml.len());
            }
        }
    }
}
