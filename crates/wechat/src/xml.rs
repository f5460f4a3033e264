//! The one XML reader every inbound document goes through: message bodies, the encrypted
//! envelope and replies read back.
//!
//! WeChat documents are flat records of leaf elements (`<Content><![CDATA[..]]></Content>`)
//! with a few nested lists. So instead of a DOM we stream quick-xml events once and keep only
//! the leaves, each borrowed from the input where possible. The reader is hardened because
//! the body is attacker-controlled until a signature says otherwise: no DOCTYPE (so no entity
//! can ever be declared or expanded), only the five predefined entities and character
//! references, a depth cap, a field-count cap, one root element, and UTF-8 only.

use std::borrow::Cow;

use quick_xml::events::{BytesRef, Event};
use quick_xml::reader::Reader;

/// The largest document we look at. WeChat's own bodies are a few KiB; the callback endpoint
/// rejects anything bigger before doing any work, and the parser repeats the check so it is
/// safe on its own.
pub const MAX_XML_BYTES: usize = 64 * 1024;

/// The deepest nesting we accept, counting the root as level 1. WeChat's deepest document
/// (MASSSENDJOBFINISH: xml/CopyrightCheckResult/ResultList/item/field) has 5 levels.
pub const MAX_DEPTH: usize = 16;

/// The most leaf elements we keep from one document: bounds memory for bodies made of many
/// tiny elements. Real messages have fewer than 50.
pub const MAX_FIELDS: usize = 512;

/// Why a document was refused. Every input either parses or yields one of these; none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the document is larger than {MAX_XML_BYTES} bytes")]
    TooLarge,
    #[error("the document is not valid UTF-8")]
    InvalidUtf8,
    #[error("DOCTYPE declarations are not accepted")]
    DocType,
    #[error("unknown entity reference &{0};")]
    UnknownEntity(String),
    #[error("elements are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("the document has more than {MAX_FIELDS} fields")]
    TooManyFields,
    #[error("the document must hold exactly one root element")]
    NotOneRoot,
    #[error("the document ends inside an element")]
    Truncated,
    #[error("malformed XML at byte {position}: {reason}")]
    Syntax { position: u64, reason: String },
    #[error("required field {0} is missing")]
    MissingField(&'static str),
    #[error("field {0} is not a valid number")]
    InvalidNumber(&'static str),
    #[error("unknown reply type {0}")]
    UnknownReplyType(String),
}

/// One leaf element of a document: an element without child elements, with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// The element name, e.g. `Content`.
    pub name: Cow<'a, str>,
    /// The text with CDATA unwrapped, entities resolved, and the whitespace around it (outside
    /// CDATA) trimmed. Text inside CDATA is kept byte for byte, control characters included.
    pub value: Cow<'a, str>,
    /// 1 for a direct child of the root element, 2 for a grandchild, and so on.
    pub depth: u8,
    /// The name of the root's child this field sits under (its own name at depth 1): tells
    /// `CopyrightCheckResult/Count` from `ArticleUrlResult/Count`.
    pub top: Cow<'a, str>,
    /// Identifies the element instance that directly contains this field, so repeated list
    /// entries (`<item>`, `<List>`) can be told apart.
    pub parent: u32,
}

/// The leaf elements of a document in document order: the parsed form of a WeChat XML body.
/// Unknown message types and events keep theirs so nothing the platform sent is lost.
#[derive(Debug, Clone, Default)]
pub struct Fields<'a> {
    /// Fields taken by a typed message stay in place with depth 0 (removing them would
    /// shift the rest on every take); every accessor skips them.
    list: Vec<Field<'a>>,
    taken: usize,
}

impl<'a> Fields<'a> {
    /// Reads the leaf elements of `xml`.
    pub fn parse(xml: &'a str) -> Result<Self, ParseError> {
        if xml.len() <= MAX_XML_BYTES
            && let Some(list) = flat_fields(xml)
        {
            return Ok(Fields { list, taken: 0 });
        }
        let mut list = Vec::with_capacity(16);
        walk(xml, |field| {
            if list.len() == MAX_FIELDS {
                return Err(ParseError::TooManyFields);
            }
            list.push(field);
            Ok(())
        })?;
        Ok(Fields { list, taken: 0 })
    }

    /// Like [`Fields::parse`] for raw bytes, refusing invalid UTF-8.
    pub fn parse_bytes(xml: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse(checked_str(xml)?)
    }

    /// The value of the direct child of the root called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.value(name).map(AsRef::as_ref)
    }

    /// The value of `<top><name>` (a grandchild of the root).
    pub fn get_nested(&self, top: &str, name: &str) -> Option<&str> {
        self.nested_value(top, name).map(AsRef::as_ref)
    }

    /// [`Fields::get`] as the stored value, which clones for free when borrowed.
    pub(crate) fn value(&self, name: &str) -> Option<&Cow<'a, str>> {
        self.list
            .iter()
            .find(|f| f.depth == 1 && f.name == name)
            .map(|f| &f.value)
    }

    /// [`Fields::get_nested`] as the stored value.
    pub(crate) fn nested_value(&self, top: &str, name: &str) -> Option<&Cow<'a, str>> {
        self.list
            .iter()
            .find(|f| f.depth == 2 && f.top == top && f.name == name)
            .map(|f| &f.value)
    }

    /// Every field, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &Field<'a>> {
        self.list.iter().filter(|f| f.depth != 0)
    }

    pub fn len(&self) -> usize {
        self.list.len() - self.taken
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fields under `top` at depth 3 or more, grouped by the element that contains them:
    /// one group per `<item>` or `<List>` entry, in document order.
    pub(crate) fn groups<'s>(&'s self, top: &'s str) -> impl Iterator<Item = &'s [Field<'a>]> {
        let under = self.list.iter().position(|f| f.top == top && f.depth >= 3);
        let rest = under.map_or(&[][..], |start| &self.list[start..]);
        rest.chunk_by(|a, b| a.parent == b.parent)
            .filter(move |g| g.first().is_some_and(|f| f.top == top && f.depth >= 3))
    }

    /// Takes a direct child's value out (the first whose name is one of `names`), so typed
    /// messages own it without a copy and what stays visible (for unknown types) is only
    /// what was not typed.
    pub(crate) fn take_any(&mut self, names: &[&str]) -> Option<Cow<'a, str>> {
        let field = self
            .list
            .iter_mut()
            .find(|f| f.depth == 1 && names.contains(&f.name.as_ref()))?;
        field.depth = 0;
        self.taken += 1;
        Some(std::mem::take(&mut field.value))
    }

    pub(crate) fn take(&mut self, name: &str) -> Option<Cow<'a, str>> {
        self.take_any(&[name])
    }

    pub fn into_owned(self) -> Fields<'static> {
        let list: Vec<Field<'static>> = self
            .list
            .into_iter()
            .filter(|f| f.depth != 0)
            .map(|f| Field {
                name: Cow::Owned(f.name.into_owned()),
                value: Cow::Owned(f.value.into_owned()),
                depth: f.depth,
                top: Cow::Owned(f.top.into_owned()),
                parent: f.parent,
            })
            .collect();
        Fields { list, taken: 0 }
    }
}

/// Equal when the visible fields are equal (taken ones do not count).
impl PartialEq for Fields<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// The value of a field in a group (see [`Fields::groups`]).
pub(crate) fn group_value<'s, 'a>(group: &'s [Field<'a>], name: &str) -> Option<&'s Cow<'a, str>> {
    group.iter().find(|f| f.name == name).map(|f| &f.value)
}

/// Validates UTF-8 once for the whole document, so every slice taken later is a `&str`.
/// `simdutf8` accepts exactly what `std::str::from_utf8` does (a test checks both agree).
pub(crate) fn checked_str(xml: &[u8]) -> Result<&str, ParseError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(ParseError::TooLarge);
    }
    simdutf8::basic::from_utf8(xml).map_err(|_| ParseError::InvalidUtf8)
}

/// An open element: its name and its instance number.
#[derive(Clone, Copy)]
struct Open<'a> {
    name: &'a str,
    id: u32,
}

/// Streams `xml` and hands every leaf element to `on_leaf`, in document order.
fn walk<'a>(
    xml: &'a str,
    mut on_leaf: impl FnMut(Field<'a>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(ParseError::TooLarge);
    }
    let mut reader = Reader::from_str(xml);
    // We match end tags against our own fixed-size stack, which saves quick-xml's
    // per-reader name buffer.
    reader.config_mut().check_end_names = false;

    let mut stack = [Open { name: "", id: 0 }; MAX_DEPTH];
    let mut depth = 0usize;
    let mut next_id = 0u32;
    let mut seen_root = false;
    // Text of the innermost open element, while it has no child element.
    let mut text = Text::default();
    let mut is_leaf = false;

    loop {
        let event = reader.read_event().map_err(|e| syntax(&reader, &e))?;
        match event {
            Event::Start(start) => {
                let name = sub_str(xml, start.name().as_ref())?;
                if depth == 0 {
                    if seen_root {
                        return Err(ParseError::NotOneRoot);
                    }
                    seen_root = true;
                }
                if depth == MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                stack[depth] = Open { name, id: next_id };
                next_id = next_id.wrapping_add(1);
                depth += 1;
                // The parent has a child element now, so it is a container, not a leaf.
                text = Text::default();
                is_leaf = true;
            }
            Event::Empty(start) => {
                let name = sub_str(xml, start.name().as_ref())?;
                if depth == 0 {
                    if seen_root {
                        return Err(ParseError::NotOneRoot);
                    }
                    seen_root = true;
                    continue;
                }
                if depth == MAX_DEPTH {
                    return Err(ParseError::TooDeep);
                }
                is_leaf = false;
                on_leaf(leaf(&stack[..depth], name, Cow::Borrowed("")))?;
            }
            Event::End(end) => {
                let name = end.name();
                let Some(open) = depth.checked_sub(1).map(|d| stack[d]) else {
                    return Err(syntax_msg(&reader, "end tag without a start tag"));
                };
                if open.name.as_bytes() != name.as_ref() {
                    return Err(syntax_msg(&reader, "end tag does not match its start tag"));
                }
                depth -= 1;
                // The root itself is never a field; a leaf is an element that had no child.
                if is_leaf && depth > 0 {
                    let value = std::mem::take(&mut text).value;
                    on_leaf(leaf(&stack[..depth], open.name, value))?;
                }
                is_leaf = false;
            }
            Event::Text(t) if depth > 0 && is_leaf => {
                text.push_text(sub_str(xml, &t)?);
            }
            Event::CData(c) if depth > 0 && is_leaf => {
                text.append(Cow::Borrowed(sub_str(xml, &c)?));
            }
            Event::GeneralRef(r) if depth > 0 => {
                let resolved = resolve_entity(&r)?;
                if is_leaf {
                    text.append(Cow::Owned(resolved.to_string()));
                }
            }
            Event::Text(t) => {
                // Text beside child elements carries nothing WeChat sends, so it is ignored;
                // outside the root it would make a second root, so it must be blank there.
                if depth == 0 && !is_blank(sub_str(xml, &t)?) {
                    return Err(ParseError::NotOneRoot);
                }
            }
            Event::CData(_) => {
                if depth == 0 {
                    return Err(ParseError::NotOneRoot);
                }
            }
            Event::GeneralRef(_) => return Err(ParseError::NotOneRoot),
            // A DOCTYPE is the only place entities could be declared: refuse it outright.
            Event::DocType(_) => return Err(ParseError::DocType),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(ParseError::Truncated);
    }
    if !seen_root {
        return Err(ParseError::NotOneRoot);
    }
    Ok(())
}

/// The fields of a document shaped as WeChat writes its own, read without quick-xml (it took
/// ~4% of a callback's CPU): a root holding only leaf elements, each with one CDATA section
/// or plain text, and nothing else: no declaration, comment, attribute, entity, nesting or
/// self-closing tag. `None` for any other document, which [`walk`] then reads; where this
/// accepts a document it gives walk's fields (the tests below compare the two).
fn flat_fields(xml: &str) -> Option<Vec<Field<'_>>> {
    let (root, mut rest) = start_tag(xml.trim_matches(is_xml_blank))?;
    let mut list = Vec::with_capacity(16);
    loop {
        rest = trim_blank_start(rest);
        if let Some(after) = end_tag(rest, root) {
            return after.is_empty().then_some(list);
        }
        let (name, inner) = start_tag(rest)?;
        let (value, after) = leaf_text(inner, name)?;
        if list.len() == MAX_FIELDS {
            return None;
        }
        list.push(Field {
            name: Cow::Borrowed(name),
            value,
            depth: 1,
            top: Cow::Borrowed(name),
            parent: 0,
        });
        rest = after;
    }
}

/// `<name>` at the start of `s`, without attributes: the name and what follows the tag.
/// Bytes, not chars: every byte tested is ASCII, and a search for a set of chars decodes
/// each one (byte searches here took a third of a message's parse off, BENCHMARKS.md,
/// callback, twentieth round).
fn start_tag(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('<')?;
    let end = memchr::memchr(b'>', s.as_bytes())?;
    let name = &s[..end];
    let plain = !name.is_empty()
        && !name.bytes().any(|b| {
            matches!(
                b,
                b' ' | b'\t'
                    | b'\r'
                    | b'\n'
                    | b'/'
                    | b'<'
                    | b'!'
                    | b'?'
                    | b'&'
                    | b'"'
                    | b'\''
                    | b'='
            )
        });
    plain.then(|| (name, &s[end + 1..]))
}

/// What follows `</name>` when `s` starts with it.
fn end_tag<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    s.strip_prefix("</")?.strip_prefix(name)?.strip_prefix('>')
}

/// The text of the leaf `name` whose start tag ends where `s` starts (one CDATA section, or
/// plain text without entities, blanks around it dropped), and what follows its end tag.
fn leaf_text<'a>(s: &'a str, name: &str) -> Option<(Cow<'a, str>, &'a str)> {
    if let Some(cdata) = trim_blank_start(s).strip_prefix("<![CDATA[") {
        let end = find_cdata_end(cdata)?;
        let after = end_tag(trim_blank_start(&cdata[end + 3..]), name)?;
        return Some((Cow::Borrowed(&cdata[..end]), after));
    }
    let end = memchr::memchr(b'<', s.as_bytes())?;
    let text = &s[..end];
    if memchr::memchr(b'&', text.as_bytes()).is_some() || find_cdata_end(text).is_some() {
        return None;
    }
    let after = end_tag(&s[end..], name)?;
    Some((Cow::Borrowed(text.trim_matches(is_xml_blank)), after))
}

fn leaf<'a>(open: &[Open<'a>], name: &'a str, value: Cow<'a, str>) -> Field<'a> {
    // `open` holds the root and the ancestors of this leaf; open[1] is its top-level ancestor.
    let depth = open.len();
    let top = open.get(1).map_or(name, |o| o.name);
    let parent = open.last().map_or(0, |o| o.id);
    Field {
        name: Cow::Borrowed(name),
        value,
        depth: u8::try_from(depth).unwrap_or(u8::MAX),
        top: Cow::Borrowed(top),
        parent,
    }
}

/// The text of one leaf, built from its Text, CDATA and entity pieces. Whitespace outside
/// CDATA at either end is dropped (`<MsgType> <![CDATA[event]]> </MsgType>` is `event`);
/// everything inside CDATA is kept. The usual single CDATA section stays borrowed.
#[derive(Default)]
struct Text<'a> {
    value: Cow<'a, str>,
    /// Whitespace that ends the last Text piece: kept only if more content follows.
    pending_blank: Cow<'a, str>,
}

impl<'a> Text<'a> {
    fn push_text(&mut self, piece: &'a str) {
        let piece = if self.value.is_empty() {
            piece.trim_start_matches(is_xml_blank)
        } else {
            piece
        };
        let body = piece.trim_end_matches(is_xml_blank);
        let blank = &piece[body.len()..];
        if !body.is_empty() {
            self.append(Cow::Borrowed(body));
        }
        if !blank.is_empty() && !self.value.is_empty() {
            append_cow(&mut self.pending_blank, Cow::Borrowed(blank));
        }
    }

    /// Adds CDATA or a resolved entity: kept as it is.
    fn append(&mut self, piece: Cow<'a, str>) {
        if !self.pending_blank.is_empty() {
            let blank = std::mem::take(&mut self.pending_blank);
            append_cow(&mut self.value, blank);
        }
        append_cow(&mut self.value, piece);
    }
}

fn append_cow<'a>(to: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if to.is_empty() {
        *to = piece;
    } else if !piece.is_empty() {
        to.to_mut().push_str(&piece);
    }
}

fn is_xml_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `s` without the XML blanks it starts with (all ASCII, so any cut is a char boundary).
fn trim_blank_start(s: &str) -> &str {
    let blanks = s
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    &s[blanks..]
}

/// Where `]]>` (the end of a CDATA section) first occurs in `s`: a byte search for `]`,
/// rather than a substring searcher built for every call.
pub(crate) fn find_cdata_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr::memchr(b']', &bytes[from..]) {
        let i = from + at;
        if bytes[i..].starts_with(b"]]>") {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

fn is_blank(s: &str) -> bool {
    s.chars().all(is_xml_blank)
}

/// The five predefined entities and character references; nothing else exists without a
/// DOCTYPE, and we refuse DOCTYPEs.
fn resolve_entity(r: &BytesRef<'_>) -> Result<char, ParseError> {
    let unknown = || ParseError::UnknownEntity(String::from_utf8_lossy(r).into_owned());
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(unknown()),
        };
    }
    match &**r {
        b"lt" => Ok('<'),
        b"gt" => Ok('>'),
        b"amp" => Ok('&'),
        b"apos" => Ok('\''),
        b"quot" => Ok('"'),
        _ => Err(unknown()),
    }
}

/// Re-borrows a slice that quick-xml handed out (it always points into `xml`) as a `&'a str`
/// of the input, so names and text keep the input's lifetime without a copy or a second
/// UTF-8 check.
fn sub_str<'a>(xml: &'a str, part: &[u8]) -> Result<&'a str, ParseError> {
    let base = xml.as_ptr() as usize;
    let start = (part.as_ptr() as usize).wrapping_sub(base);
    start
        .checked_add(part.len())
        .and_then(|end| xml.get(start..end))
        .ok_or(ParseError::InvalidUtf8)
}

fn syntax(reader: &Reader<&[u8]>, e: &quick_xml::Error) -> ParseError {
    ParseError::Syntax {
        position: reader.error_position(),
        reason: e.to_string(),
    }
}

fn syntax_msg(reader: &Reader<&[u8]>, reason: &str) -> ParseError {
    ParseError::Syntax {
        position: reader.buffer_position(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(xml: &str) -> Fields<'_> {
        Fields::parse(xml).expect("parses")
    }

    /// What quick-xml's reader makes of `xml`.
    fn walked(xml: &str) -> Result<Vec<Field<'_>>, ParseError> {
        let mut list = vec![];
        walk(xml, |f| {
            list.push(f);
            Ok(())
        })
        .map(|()| list)
    }

    #[test]
    fn wechats_own_shape_is_read_without_quick_xml_and_alike() {
        let text = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\n <CreateTime> 1700000000 </CreateTime>\
            <Content>  <![CDATA[ a ]] > b <]]>\n</Content><Empty></Empty><MsgId>1</MsgId></xml>\n";
        let flat = flat_fields(text).expect("WeChat's shape");
        assert_eq!(flat, walked(text).expect("walks"));
        assert_eq!(flat[2].value, " a ]] > b <");
        assert_eq!(flat[1].value, "1700000000");
        for other in [
            "<?xml version=\"1.0\"?><xml><A>1</A></xml>",
            "<xml><A>1 &amp; 2</A></xml>",
            "<xml><A x=\"1\">1</A></xml>",
            "<xml><A/></xml>",
            "<xml><L><A>1</A></L></xml>",
            "<xml><A><!-- c -->1</A></xml>",
            "<xml><A><![CDATA[1]]><![CDATA[2]]></A></xml>",
            "<xml><A>1</A ></xml>",
            "<xml><A>1</B></xml>",
            "<xml><A>1</A>",
            "<xml><A>1</A></xml><xml/>",
            "<xml>junk<A>1</A></xml>",
        ] {
            assert_eq!(flat_fields(other), None, "{other}");
        }
    }

    /// Pieces a document is made of, WeChat's and others.
    fn piece() -> impl Strategy<Value = String> {
        let text = "[ a\t\n中<>&\\]\\[;#x!?/=\"']{0,6}";
        prop_oneof![
            4 => ("(A|Content|xml|B_1)", text).prop_map(|(n, t)| format!("<{n}>{t}</{n}>")),
            4 => ("(A|Content|xml)", text, "[ \n]{0,2}", "[ \n]{0,2}")
                .prop_map(|(n, t, l, r)| format!("<{n}>{l}<![CDATA[{t}]]>{r}</{n}>")),
            2 => "[ \n\t]{1,3}",
            1 => prop_oneof![
                Just("<!--c-->".to_string()),
                Just("<?xml version=\"1.0\"?>".to_string()),
                Just("&amp;".to_string()),
                Just("<C/>".to_string()),
                Just("</A>".to_string()),
                Just("<A>".to_string()),
                Just("<A b=\"1\">".to_string()),
                Just("]]>".to_string()),
            ],
        ]
    }

    proptest::proptest! {
        /// Wherever the quick read accepts a document, quick-xml reads the same fields.
        #[test]
        fn the_quick_read_agrees_with_quick_xml(
            root in "(xml|x)",
            pieces in proptest::collection::vec(piece(), 0..8),
            blank in "[ \n]{0,2}",
        ) {
            let doc = format!("{blank}<{root}>{}</{root}>{blank}", pieces.concat());
            if let Some(flat) = flat_fields(&doc) {
                proptest::prop_assert_eq!(Ok(flat), walked(&doc), "{}", doc);
            }
        }

        /// The SIMD check takes and refuses exactly the bytes std's does, at any length
        /// (its vector loops and their tails).
        #[test]
        fn utf8_is_checked_as_by_std(
            bytes in proptest::collection::vec(
                prop_oneof![
                    4 => proptest::num::u8::ANY,
                    4 => Just(b'a'),
                    1 => Just(0xE4u8),
                    1 => Just(0xB8u8),
                    1 => Just(0x80u8),
                ],
                0..200,
            ),
            text in ".{0,80}",
        ) {
            proptest::prop_assert_eq!(checked_str(&bytes).is_ok(), std::str::from_utf8(&bytes).is_ok());
            proptest::prop_assert_eq!(checked_str(text.as_bytes()), Ok(text.as_str()));
        }

        /// The byte search finds the first `]]>` exactly where a substring search does.
        #[test]
        fn the_cdata_end_is_found_as_by_str_find(s in "[\\]\\]>a中]{0,12}") {
            proptest::prop_assert_eq!(find_cdata_end(&s), s.find("]]>"));
        }

        /// And it accepts every document of WeChat's shape.
        #[test]
        fn the_quick_read_takes_every_flat_document(
            leaves in proptest::collection::vec(("(A|Content|MsgId)", "[ a\n中>]{0,6}", any::<bool>()), 0..8),
        ) {
            let body: String = leaves
                .iter()
                .map(|(n, t, cdata)| match cdata {
                    true => format!("<{n}> <![CDATA[{t}<&]]>\n</{n}>"),
                    false => format!("<{n}>{t}</{n}>"),
                })
                .collect();
            let doc = format!("<xml>{body}</xml>");
            let flat = flat_fields(&doc);
            proptest::prop_assert!(flat.is_some(), "{}", doc);
            proptest::prop_assert_eq!(flat.ok_or(ParseError::NotOneRoot), walked(&doc));
        }
    }

    #[test]
    fn cdata_whitespace_and_entities() {
        let f = fields(
            "<xml><A> <![CDATA[ x ]]> </A><B> 12 </B><C>a &amp; b&#x4e2d;</C><D/><E></E></xml>",
        );
        assert_eq!(f.get("A"), Some(" x "));
        assert_eq!(f.get("B"), Some("12"));
        assert_eq!(f.get("C"), Some("a & b中"));
        assert_eq!(f.get("D"), Some(""));
        assert_eq!(f.get("E"), Some(""));
    }

    #[test]
    fn single_cdata_stays_borrowed() {
        let f = fields("<xml><Content> <![CDATA[hello]]>\n</Content></xml>");
        let field = f.iter().next().expect("one field");
        assert!(matches!(field.value, Cow::Borrowed("hello")));
    }

    #[test]
    fn control_characters_are_kept() {
        let f = fields("<xml><Content><![CDATA[a\u{1d}b\u{0}c]]></Content></xml>");
        assert_eq!(f.get("Content"), Some("a\u{1d}b\u{0}c"));
    }

    #[test]
    fn nested_groups() {
        let f = fields(
            "<xml><L><item><a>1</a><b>2</b></item><item><a>3</a></item></L><Count>2</Count></xml>",
        );
        let groups: Vec<Vec<&str>> = f
            .groups("L")
            .map(|g| g.iter().map(|x| x.value.as_ref()).collect())
            .collect();
        assert_eq!(groups, vec![vec!["1", "2"], vec!["3"]]);
        assert_eq!(f.get("Count"), Some("2"));
        assert_eq!(f.get("a"), None);
    }

    #[test]
    fn hostile_documents_are_refused() {
        let cases: &[(&[u8], ParseError)] = &[
            (
                b"<!DOCTYPE x [<!ENTITY e \"boom\">]><xml><A>&e;</A></xml>",
                ParseError::DocType,
            ),
            (
                b"<xml><A>&e;</A></xml>",
                ParseError::UnknownEntity("e".into()),
            ),
            (b"<xml><A>x</A>", ParseError::Truncated),
            (b"<xml/><xml/>", ParseError::NotOneRoot),
            (b"", ParseError::NotOneRoot),
            (b"just text", ParseError::NotOneRoot),
            (b"<xml><A>\xff</A></xml>", ParseError::InvalidUtf8),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Fields::parse_bytes(input).as_ref().err(),
                Some(expected),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(Fields::parse(&deep).err(), Some(ParseError::TooDeep));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(Fields::parse(&ok).is_ok());
        let many = format!("<xml>{}</xml>", "<a/>".repeat(MAX_FIELDS + 1));
        assert_eq!(Fields::parse(&many).err(), Some(ParseError::TooManyFields));
        let big = format!("<xml><A>{}</A></xml>", "x".repeat(MAX_XML_BYTES));
        assert_eq!(Fields::parse(&big).err(), Some(ParseError::TooLarge));
        assert!(matches!(
            Fields::parse("<xml><A></B></xml>"),
            Err(ParseError::Syntax { .. })
        ));
    }
}
