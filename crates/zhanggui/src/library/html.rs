//! An allow-list HTML sanitizer for article bodies. What the merchant pastes (from a rich
//! editor, Word, another site) is reduced to a few formatting tags with safe attributes;
//! everything else is dropped, and the text between tags is kept, escaped. Pure: no I/O.
//!
//! Kept: p br hr h2 h3 h4 strong b em i u s blockquote ul ol li pre code figure figcaption,
//! `a` (href http, https, mailto or a site path), `img` (src https or one of our media
//! URLs `/m/...`, alt). Dropped with their content: script, style, iframe, object, embed,
//! template, textarea, select, svg, math, head, title. Comments are dropped.

/// Tags kept, without attributes unless listed in [`attributes_of`].
const ALLOWED: &[&str] = &[
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "blockquote",
    "ul",
    "ol",
    "li",
    "pre",
    "code",
    "figure",
    "figcaption",
    "a",
    "img",
];

/// Tags whose content is dropped along with them.
const DROPPED: &[&str] = &[
    "script", "style", "iframe", "object", "embed", "template", "textarea", "select", "svg",
    "math", "head", "title", "noscript",
];

const VOID: &[&str] = &["br", "hr", "img"];

/// Open elements kept at most (bounds the work of closing tags too).
const MAX_DEPTH: usize = 32;

/// The sanitized form of `input`: well nested, every tag closed, only allowed markup.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut open: Vec<&'static str> = vec![];
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            push_text(&mut out, &rest[..end]);
            i += end;
            continue;
        }
        // A comment, doctype or processing instruction: skipped.
        if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(rest.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i += rest.find('>').map_or(rest.len(), |e| e + 1);
            continue;
        }
        let closing = rest.starts_with("</");
        let name_start = if closing { 2 } else { 1 };
        let name_len = rest[name_start..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 || !bytes[i + name_start].is_ascii_alphabetic() {
            // A lone '<': text.
            out.push_str("&lt;");
            i += 1;
            continue;
        }
        let name = rest[name_start..name_start + name_len].to_ascii_lowercase();
        let Some(tag_end) = tag_end(&rest[name_start + name_len..]) else {
            // An unterminated tag: the rest is dropped.
            break;
        };
        let attrs_text = &rest[name_start + name_len..name_start + name_len + tag_end];
        i += name_start + name_len + tag_end + 1;
        if closing {
            if let Some(pos) = open.iter().rposition(|t| *t == name) {
                while open.len() > pos {
                    if let Some(t) = open.pop() {
                        close(&mut out, t);
                    }
                }
            }
            continue;
        }
        if DROPPED.contains(&name.as_str()) {
            // Skip to the matching end tag (or the end), in one pass over the content.
            i = match end_tag_at(input, i, &name) {
                Some(e) => {
                    let after = &input[e..];
                    e + after.find('>').map_or(after.len(), |g| g + 1)
                }
                None => input.len(),
            };
            continue;
        }
        let Some(tag) = ALLOWED.iter().find(|t| **t == name).copied() else {
            continue;
        };
        if open.len() >= MAX_DEPTH && !VOID.contains(&tag) {
            // Deeper nesting than any article needs: the tag goes, its text stays.
            continue;
        }
        if tag == "img" {
            // An image without an allowed source is no image at all.
            let attrs = parse_attributes(attrs_text);
            let src = attrs.iter().find(|(k, _)| k == "src").map(|(_, v)| v);
            let Some(src) = src.filter(|s| image_src_ok(s)) else {
                continue;
            };
            out.push_str("<img src=\"");
            push_attr(&mut out, src);
            out.push('"');
            if let Some((_, alt)) = attrs.iter().find(|(k, _)| k == "alt") {
                out.push_str(" alt=\"");
                push_attr(&mut out, alt);
                out.push('"');
            }
            out.push('>');
            continue;
        }
        out.push('<');
        out.push_str(tag);
        if tag == "a" {
            let attrs = parse_attributes(attrs_text);
            let href = attrs.iter().find(|(k, _)| k == "href").map(|(_, v)| v);
            if let Some(href) = href.filter(|h| link_ok(h)) {
                out.push_str(" href=\"");
                push_attr(&mut out, href);
                out.push_str("\" rel=\"nofollow noopener\"");
            }
        }
        out.push('>');
        if !VOID.contains(&tag) {
            open.push(tag);
        }
    }
    while let Some(t) = open.pop() {
        close(&mut out, t);
    }
    out
}

/// The text of sanitized (or any) HTML: tags removed, for digests and search.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where `</name` (any case) first starts at or after `from`.
fn end_tag_at(input: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut at = from;
    while let Some(found) = input[at..].find("</") {
        let start = at + found;
        let name_end = start + 2 + name.len();
        if bytes
            .get(start + 2..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            return Some(start);
        }
        at = start + 2;
    }
    None
}

fn close(out: &mut String, tag: &str) {
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// The offset of the `>` that ends a tag, quotes respected.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// `name="value"` pairs (names lowercased; values as written, entities not decoded).
fn parse_attributes(s: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut chars = s.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() || c == '/' {
            chars.next();
            continue;
        }
        let mut end = start;
        while let Some(&(j, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' || c == '/' {
                break;
            }
            end = j + c.len_utf8();
            chars.next();
        }
        let name = s[start..end].to_ascii_lowercase();
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '=') {
            chars.next();
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                chars.next();
            }
            match chars.peek().map(|(_, c)| *c) {
                Some(q @ ('"' | '\'')) => {
                    chars.next();
                    for (_, c) in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                _ => {
                    while let Some(&(_, c)) = chars.peek() {
                        if c.is_whitespace() {
                            break;
                        }
                        value.push(c);
                        chars.next();
                    }
                }
            }
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

/// Text, escaped; an `&` that starts an entity is kept as written.
fn push_text(out: &mut String, text: &str) {
    for (i, c) in text.char_indices() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '&' if starts_entity(&text[i + 1..]) => out.push('&'),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
}

fn push_attr(out: &mut String, value: &str) {
    push_text(out, value.trim());
}

fn starts_entity(rest: &str) -> bool {
    let n = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
        .count();
    n > 0 && n <= 10 && rest.as_bytes().get(n) == Some(&b';')
}

/// Links: the web, mail, or a path of this site. Anything with a scheme of its own
/// (javascript:, data:, vbscript: ...) or written with entities is refused.
pub fn link_ok(href: &str) -> bool {
    let h = href.trim().to_ascii_lowercase();
    if h.contains('&') || h.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    h.starts_with("https://")
        || h.starts_with("http://")
        || h.starts_with("mailto:")
        || (h.starts_with('/') && !h.starts_with("//"))
}

/// Images: https, or one of our own media URLs.
pub fn image_src_ok(src: &str) -> bool {
    let s = src.trim().to_ascii_lowercase();
    if s.contains('&') || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return false;
    }
    s.starts_with("https://") || s.starts_with("/m/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_kept_and_everything_else_goes() {
        assert_eq!(
            sanitize("<p class=x onclick=\"evil()\">Hi <b>there</b></p>"),
            "<p>Hi <b>there</b></p>"
        );
        assert_eq!(sanitize("a<script>alert(1)</script>b"), "ab");
        assert_eq!(sanitize("a<SCRIPT src=x></SCRIPT >b"), "ab");
        assert_eq!(sanitize("<style>p{}</style><p>x"), "<p>x</p>");
        assert_eq!(sanitize("<div><span>text</span></div>"), "text");
        assert_eq!(sanitize("<!-- hidden -->seen"), "seen");
        assert_eq!(sanitize("1 < 2 & 3 > 2"), "1 &lt; 2 &amp; 3 &gt; 2");
        assert_eq!(sanitize("&amp; &#169; &nbsp;"), "&amp; &#169; &nbsp;");
        assert_eq!(sanitize("<p><b>open"), "<p><b>open</b></p>");
        assert_eq!(sanitize("</p>stray</b>"), "stray");
        assert_eq!(sanitize("<b><i>x</b>y</i>"), "<b><i>x</i></b>y");
        assert_eq!(sanitize("<p>cut <img src=\"x"), "<p>cut </p>");
        assert_eq!(sanitize("<svg><script>x</script></svg>ok"), "ok");
        assert_eq!(sanitize("<script>never closed"), "");
        assert_eq!(sanitize("<style>a</b></STYLE>后"), "后");
        // Many dropped tags cost one pass each over their own content.
        let many = "<script>x</script>".repeat(50_000);
        assert_eq!(sanitize(&format!("{many}end")), "end");
        let deep = format!("{}x{}", "<b>".repeat(100_000), "</i>".repeat(100_000));
        let out = sanitize(&deep);
        assert_eq!(out.matches("<b>").count(), MAX_DEPTH);
        assert!(out.contains("x</b>") && out.ends_with("</b></b>"));
    }

    #[test]
    fn links_and_images_are_checked() {
        assert_eq!(
            sanitize("<a href=\"https://example.com/?a=1\" target=_blank>x</a>"),
            "<a href=\"https://example.com/?a=1\" rel=\"nofollow noopener\">x</a>"
        );
        assert_eq!(
            sanitize("<a href=\"javascript:alert(1)\">x</a>"),
            "<a>x</a>"
        );
        assert_eq!(sanitize("<a href=\"jav&#x61;script:x\">x</a>"), "<a>x</a>");
        assert_eq!(sanitize("<a href=' JaVaScRiPt:x'>x</a>"), "<a>x</a>");
        assert_eq!(sanitize("<a href=\"//evil.example\">x</a>"), "<a>x</a>");
        assert_eq!(
            sanitize("<img src=\"/m/abc\" alt='a \"b\"' onerror=x>"),
            "<img src=\"/m/abc\" alt=\"a &quot;b&quot;\">"
        );
        assert_eq!(sanitize("<img src=\"data:image/png;base64,xx\">"), "");
        assert_eq!(sanitize("<img src=\"http://plain.example/x.png\">"), "");
        assert_eq!(
            sanitize("<a href=\"x\" title='>'>y</a>"),
            "<a>y</a>",
            "a quoted > does not end the tag"
        );
    }

    #[test]
    fn text_of_strips_tags() {
        assert_eq!(
            text_of("<p>Hi <b>there</b></p><p>&amp; more</p>"),
            "Hi there & more"
        );
    }
}
