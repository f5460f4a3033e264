//! The content library (素材): what an item is, WeChat's limits on each kind, media types told
//! by their bytes (never by a file name), articles, and the deletion guard. Pure: no I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

/// WeChat's limit on a news article's title (图文标题).
pub const MAX_TITLE_CHARS: usize = 64;
/// WeChat's limit on an article's digest (摘要).
pub const MAX_DIGEST_CHARS: usize = 120;
/// Our limit on an author's name: WeChat shows it on one line above the article.
pub const MAX_AUTHOR_CHARS: usize = 16;
/// WeChat refuses an article body of 20,000 characters or more.
pub const MAX_BODY_CHARS: usize = 20_000;
pub const MAX_URL_CHARS: usize = 1024;
/// A news item holds 1 to 8 articles.
pub const MAX_ARTICLES: usize = 8;
/// A text snippet is a reply: WeChat shows up to this many characters in full.
pub const MAX_TEXT_CHARS: usize = crate::accounts::model::MAX_REPLY_CHARS;
/// Permanent material limits: images 10 MB, voice 2 MB, video 10 MB.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
pub const MAX_VOICE_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: usize = 10 * 1024 * 1024;
/// The largest upload any kind allows (the body limit of the upload routes adds room for
/// the form around the file).
pub const MAX_UPLOAD_BYTES: usize = MAX_IMAGE_BYTES;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 文字: a text snippet.
    Text,
    /// 图片: jpg, png, gif or bmp, up to 10 MB.
    Image,
    /// 语音: mp3 or amr, up to 2 MB.
    Voice,
    /// 视频: mp4, up to 10 MB.
    Video,
    /// 图文: 1 to 8 articles.
    News,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::News,
        Kind::Text,
        Kind::Image,
        Kind::Voice,
        Kind::Video,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Image => "image",
            Kind::Voice => "voice",
            Kind::Video => "video",
            Kind::News => "news",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Kind::Text => "library.kind.text",
            Kind::Image => "library.kind.image",
            Kind::Voice => "library.kind.voice",
            Kind::Video => "library.kind.video",
            Kind::News => "library.kind.news",
        }
    }

    pub fn is_media(self) -> bool {
        matches!(self, Kind::Image | Kind::Voice | Kind::Video)
    }

    pub fn max_bytes(self) -> usize {
        match self {
            Kind::Voice => MAX_VOICE_BYTES,
            Kind::Video => MAX_VIDEO_BYTES,
            _ => MAX_IMAGE_BYTES,
        }
    }
}

/// A medium's type as its first bytes tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Mp3,
    Amr,
    Mp4,
}

impl MediaType {
    pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
        let b = bytes;
        if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaType::Jpeg)
        } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(MediaType::Png)
        } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            Some(MediaType::Gif)
        } else if b.starts_with(b"BM") && b.len() > 26 {
            Some(MediaType::Bmp)
        } else if b.starts_with(b"#!AMR\n") {
            Some(MediaType::Amr)
        } else if b.starts_with(b"ID3") || (b.len() > 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) {
            Some(MediaType::Mp3)
        } else if b.len() > 12 && &b[4..8] == b"ftyp" {
            Some(MediaType::Mp4)
        } else {
            None
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            MediaType::Jpeg | MediaType::Png | MediaType::Gif | MediaType::Bmp => Kind::Image,
            MediaType::Mp3 | MediaType::Amr => Kind::Voice,
            MediaType::Mp4 => Kind::Video,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Gif => "image/gif",
            MediaType::Bmp => "image/bmp",
            MediaType::Mp3 => "audio/mpeg",
            MediaType::Amr => "audio/amr",
            MediaType::Mp4 => "video/mp4",
        }
    }
}

/// An upload that passed: its type and the title it will carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidMedia {
    pub media_type: MediaType,
    pub title: String,
}

/// Checks an uploaded file: a known type by its bytes, the kind the form asked for (if any),
/// and the size WeChat allows for that kind. The title defaults to the file's name.
pub fn validate_media(
    bytes: &[u8],
    filename: &str,
    title: &str,
    expected: Option<Kind>,
) -> Result<ValidMedia, FieldErrors> {
    let mut errors = FieldErrors::default();
    let title = default_title(title, filename);
    check_title(&title, &mut errors);
    let media_type = if bytes.is_empty() {
        errors.add("file", Msg::new("library.file_missing"));
        None
    } else {
        match MediaType::sniff(bytes) {
            None => {
                errors.add("file", Msg::new("library.file_type"));
                None
            }
            Some(t) if expected.is_some_and(|k| k != t.kind()) => {
                let key = match expected {
                    Some(Kind::Voice) => "library.file_not_voice",
                    Some(Kind::Video) => "library.file_not_video",
                    _ => "library.file_not_image",
                };
                errors.add("file", Msg::new(key));
                None
            }
            Some(t) if bytes.len() > t.kind().max_bytes() => {
                errors.add(
                    "file",
                    Msg::new("library.file_too_large")
                        .arg("kind", t.kind().as_str())
                        .arg("max_mb", t.kind().max_bytes() / 1024 / 1024),
                );
                None
            }
            Some(t) => Some(t),
        }
    };
    match media_type {
        Some(media_type) if errors.is_empty() => Ok(ValidMedia { media_type, title }),
        _ => Err(errors),
    }
}

/// A file name without its folder and extension, as a title.
fn default_title(title: &str, filename: &str) -> String {
    let t = title.trim();
    if !t.is_empty() {
        return t.to_string();
    }
    let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    stem.chars()
        .take(MAX_TITLE_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

fn check_title(title: &str, errors: &mut FieldErrors) {
    if title.is_empty() {
        errors.add("title", Msg::new("error.required"));
    } else if title.chars().count() > MAX_TITLE_CHARS {
        errors.add(
            "title",
            Msg::new("error.too_long").arg("max", MAX_TITLE_CHARS),
        );
    } else if title.chars().any(char::is_control) {
        errors.add("title", Msg::new("error.control_chars"));
    }
}

/// A text snippet as typed.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct TextInput {
    /// What the merchant calls it in the library (≤ 64 characters).
    #[schema(example = "营业时间")]
    pub title: String,
    /// The words a follower receives (≤ 600 characters).
    #[schema(example = "每天 9:00–21:00 营业")]
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidText {
    pub title: String,
    pub text: String,
}

pub fn validate_text(input: &TextInput) -> Result<ValidText, FieldErrors> {
    let mut errors = FieldErrors::default();
    let title = input.title.trim().to_string();
    check_title(&title, &mut errors);
    let text = input.text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        errors.add("text", Msg::new("error.required"));
    } else if text.chars().count() > MAX_TEXT_CHARS {
        errors.add(
            "text",
            Msg::new("error.too_long").arg("max", MAX_TEXT_CHARS),
        );
    }
    if errors.is_empty() {
        Ok(ValidText { title, text })
    } else {
        Err(errors)
    }
}

/// One article of a news item, as typed.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct ArticleInput {
    /// An existing article of the item, to keep its page address and counters; omitted for
    /// a new article.
    #[serde(default)]
    pub id: Option<i64>,
    /// ≤ 64 characters.
    #[schema(example = "秋季新品上市")]
    pub title: String,
    #[serde(default)]
    pub author: String,
    /// ≤ 120 characters; empty: the start of the body.
    #[serde(default)]
    pub digest: String,
    /// Rich text (HTML). Stored sanitized: only formatting, links and images stay.
    #[serde(default)]
    pub body_html: String,
    /// 阅读原文: an http(s) address.
    #[serde(default)]
    pub content_source_url: String,
    /// An image item of the library, shown as the card's cover.
    #[serde(default)]
    pub cover_item_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidArticle {
    pub id: Option<i64>,
    pub title: String,
    pub author: String,
    pub digest: String,
    pub body_html: String,
    pub content_source_url: String,
    pub cover_item_id: Option<i64>,
}

/// Checks one article; errors name the field (`title`, `digest` ...).
pub fn validate_article(input: &ArticleInput, errors: &mut FieldErrors) -> ValidArticle {
    let title = input.title.trim().to_string();
    check_title(&title, errors);
    let author = input.author.trim().to_string();
    if author.chars().count() > MAX_AUTHOR_CHARS {
        errors.add(
            "author",
            Msg::new("error.too_long").arg("max", MAX_AUTHOR_CHARS),
        );
    }
    let body_html = super::html::sanitize(&input.body_html);
    if body_html.chars().count() > MAX_BODY_CHARS {
        errors.add(
            "body_html",
            Msg::new("error.too_long").arg("max", MAX_BODY_CHARS),
        );
    }
    let mut digest = input.digest.trim().to_string();
    if digest.chars().count() > MAX_DIGEST_CHARS {
        errors.add(
            "digest",
            Msg::new("error.too_long").arg("max", MAX_DIGEST_CHARS),
        );
    } else if digest.is_empty() {
        // WeChat takes the start of the body, as we do.
        digest = super::html::text_of(&body_html).chars().take(54).collect();
    }
    let url = input.content_source_url.trim().to_string();
    if url.chars().count() > MAX_URL_CHARS {
        errors.add(
            "content_source_url",
            Msg::new("error.too_long").arg("max", MAX_URL_CHARS),
        );
    } else if !url.is_empty() && !web_url_ok(&url) {
        errors.add("content_source_url", Msg::new("library.bad_url"));
    }
    ValidArticle {
        id: input.id,
        title,
        author,
        digest,
        body_html,
        content_source_url: url,
        cover_item_id: input.cover_item_id,
    }
}

fn web_url_ok(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && url::Url::parse(url).is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A news item as typed: its articles in order.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct NewsInput {
    /// 1 to 8 articles; the first is the big one. The item's title is the first article's.
    pub articles: Vec<ArticleInput>,
}

/// Checks a whole news item. An error of article `i` is reported on `articles[i].field`.
pub fn validate_news(input: &NewsInput) -> Result<Vec<ValidArticle>, FieldErrors> {
    let mut errors = FieldErrors::default();
    if input.articles.is_empty() {
        errors.add("articles", Msg::new("library.no_articles"));
    } else if input.articles.len() > MAX_ARTICLES {
        errors.add(
            "articles",
            Msg::new("library.too_many_articles").arg("max", MAX_ARTICLES),
        );
    }
    let mut out = vec![];
    for (i, a) in input.articles.iter().enumerate() {
        let mut own = FieldErrors::default();
        out.push(validate_article(a, &mut own));
        for e in own.0 {
            errors.add(&format!("articles[{i}].{}", e.field), e.msg);
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Where an item is used. Reply rules, menus and broadcasts (later parts of issue 6 and the
/// broadcast issue) add their own kinds; an item in use cannot be deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Usage {
    /// The image is the cover of an article of a news item.
    Cover { item_id: i64, article_title: String },
    /// A keyword or welcome reply rule answers with the item.
    ReplyRule { rule_id: i64, name: String },
    /// A button of a menu (saved or published) sends, opens or answers with the item.
    Menu {
        account_id: i64,
        menu_id: i64,
        name: String,
    },
    /// A broadcast sends (or sent) the item.
    Broadcast { broadcast_id: i64, name: String },
}

impl Usage {
    /// The message key that explains a refusal because of this usage.
    fn refusal_key(&self) -> &'static str {
        match self {
            Usage::Cover { .. } => "library.in_use.cover",
            Usage::ReplyRule { .. } => "library.in_use.reply_rule",
            Usage::Menu { .. } => "library.in_use.menu_button",
            Usage::Broadcast { .. } => "library.in_use.broadcast",
        }
    }

    fn name(&self) -> &str {
        match self {
            Usage::Cover { article_title, .. } => article_title,
            Usage::ReplyRule { name, .. }
            | Usage::Menu { name, .. }
            | Usage::Broadcast { name, .. } => name,
        }
    }
}

/// Whether an item may be deleted: not while anything uses it. The refusal names the first
/// user and how many there are in all.
pub fn deletion_refusal(usages: &[Usage]) -> Option<Msg> {
    let first = usages.first()?;
    Some(
        Msg::new(first.refusal_key())
            .arg("name", first.name())
            .arg("count", usages.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend_from_slice(&[0; 32]);
        b
    }

    #[test]
    fn media_types_are_told_by_their_bytes_not_their_names() {
        assert_eq!(MediaType::sniff(&png()), Some(MediaType::Png));
        assert_eq!(
            MediaType::sniff(b"\xFF\xD8\xFF\xE0rest"),
            Some(MediaType::Jpeg)
        );
        assert_eq!(MediaType::sniff(b"GIF89a...."), Some(MediaType::Gif));
        assert_eq!(MediaType::sniff(b"#!AMR\nxx"), Some(MediaType::Amr));
        assert_eq!(MediaType::sniff(b"ID3\x04rest"), Some(MediaType::Mp3));
        assert_eq!(
            MediaType::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"),
            Some(MediaType::Mp4)
        );
        assert_eq!(MediaType::sniff(b"<svg></svg>"), None);
        assert_eq!(MediaType::sniff(b"hello.png"), None);
        // A text file named like a picture is refused.
        let e = validate_media(b"not a picture", "cat.png", "", Some(Kind::Image))
            .expect_err("refused");
        assert_eq!(e.get("file").map(|m| m.key), Some("library.file_type"));
        // A picture where a voice was asked for is refused.
        let e = validate_media(&png(), "a.mp3", "", Some(Kind::Voice)).expect_err("refused");
        assert_eq!(e.get("file").map(|m| m.key), Some("library.file_not_voice"));
        let ok = validate_media(&png(), "dir/店招.final.png", "", None).expect("valid");
        assert_eq!(ok.title, "店招.final");
        assert_eq!(ok.media_type.kind(), Kind::Image);
    }

    #[test]
    fn sizes_follow_wechats_limits() {
        let mut big = png();
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        let e = validate_media(&big, "big.png", "", None).expect_err("too large");
        assert_eq!(e.get("file").map(|m| m.key), Some("library.file_too_large"));
        big.truncate(MAX_IMAGE_BYTES);
        assert!(validate_media(&big, "big.png", "", None).is_ok());
        let mut voice = b"ID3".to_vec();
        voice.resize(MAX_VOICE_BYTES + 1, 0);
        assert!(validate_media(&voice, "v.mp3", "", None).is_err());
    }

    #[test]
    fn articles_are_checked_against_wechats_limits() {
        let long_title = "标".repeat(MAX_TITLE_CHARS + 1);
        let input = NewsInput {
            articles: vec![ArticleInput {
                title: long_title,
                digest: "摘".repeat(MAX_DIGEST_CHARS + 1),
                content_source_url: "javascript:alert(1)".into(),
                ..Default::default()
            }],
        };
        let e = validate_news(&input).expect_err("invalid");
        assert!(e.has("articles[0].title"));
        assert!(e.has("articles[0].digest"));
        assert!(e.has("articles[0].content_source_url"));
        assert!(validate_news(&NewsInput::default()).is_err());
        let nine = NewsInput {
            articles: vec![
                ArticleInput {
                    title: "t".into(),
                    ..Default::default()
                };
                9
            ],
        };
        assert!(validate_news(&nine).expect_err("too many").has("articles"));
        let ok = validate_news(&NewsInput {
            articles: vec![ArticleInput {
                title: " 新品 ".into(),
                body_html: "<p onclick=x>第一段<script>x</script></p>".into(),
                content_source_url: "https://example.com/a".into(),
                ..Default::default()
            }],
        })
        .expect("valid");
        assert_eq!(ok[0].title, "新品");
        assert_eq!(ok[0].body_html, "<p>第一段</p>");
        assert_eq!(
            ok[0].digest, "第一段",
            "the digest defaults to the body's start"
        );
    }

    #[test]
    fn an_item_in_use_cannot_be_deleted() {
        assert_eq!(deletion_refusal(&[]), None);
        let usages = vec![
            Usage::ReplyRule {
                rule_id: 7,
                name: "营业时间".into(),
            },
            Usage::Cover {
                item_id: 3,
                article_title: "新品".into(),
            },
        ];
        let refusal = deletion_refusal(&usages).expect("refused");
        assert_eq!(refusal.key, "library.in_use.reply_rule");
        let zh = crate::platform::i18n::Lang::ZhCn.render(&refusal);
        assert!(zh.contains("营业时间") && zh.contains('2'), "{zh}");
    }
}
