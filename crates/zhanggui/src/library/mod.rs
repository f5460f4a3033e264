//! The content library (素材): text snippets, images, voice, video and news (图文) of 1 to 8
//! articles, stored per merchant (every account of the merchant may send them). Media bytes
//! live in the database so that every instance serves them. Each article has a public
//! mobile page (`/a/{token}`) that counts reads and shares; each medium a public URL
//! (`/m/{token}`).
//!
//! WeChat's own ids of items (permanent material, drafts, published articles) are made and
//! cached per account by `wechat.rs`, for menus, replies and broadcasts.

pub mod html;
pub mod model;
pub mod routes;
pub mod store;
pub mod wechat;

use model::{Kind, NewsInput, TextInput, Usage, ValidArticle};
use sha2::Digest;
pub use store::{ArticleRow, ItemRow};

use crate::merchants::field_error;
use crate::platform::db::Db;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;

impl ItemRow {
    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Text)
    }

    /// The public URL of a medium (relative to the site).
    pub fn media_path(&self) -> Option<String> {
        self.media_id.map(|_| format!("/m/{}", self.token))
    }
}

impl ArticleRow {
    pub fn page_path(&self) -> String {
        format!("/a/{}", self.token)
    }
}

/// An item of this merchant (404 otherwise).
pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<ItemRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// An item with its articles (none unless it is news).
pub async fn get_with_articles(
    db: &Db,
    merchant_id: i64,
    id: i64,
) -> Result<(ItemRow, Vec<ArticleRow>), AppError> {
    let item = get(db, merchant_id, id).await?;
    let articles = if item.kind() == Kind::News {
        store::articles(db, merchant_id, &[id]).await?
    } else {
        vec![]
    };
    Ok((item, articles))
}

pub async fn create_text(
    db: &Db,
    merchant_id: i64,
    input: &TextInput,
    now: i64,
) -> Result<ItemRow, AppError> {
    let v = model::validate_text(input).map_err(AppError::Validation)?;
    let id = store::insert_text(db, merchant_id, &v.title, &v.text, now).await?;
    get(db, merchant_id, id).await
}

pub async fn update_text(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &TextInput,
    now: i64,
) -> Result<ItemRow, AppError> {
    let item = get(db, merchant_id, id).await?;
    if item.kind() != Kind::Text {
        return Err(AppError::Conflict(Msg::new("library.wrong_kind")));
    }
    let v = model::validate_text(input).map_err(AppError::Validation)?;
    store::update_text(db, merchant_id, id, &v.title, &v.text, now).await?;
    crate::replies::store::bump_merchant(db, merchant_id).await?;
    get(db, merchant_id, id).await
}

/// Stores an uploaded medium after checking its bytes and size. `expected`: the kind the
/// form asked for, if any.
pub async fn upload(
    db: &Db,
    merchant_id: i64,
    bytes: &[u8],
    filename: &str,
    title: &str,
    expected: Option<Kind>,
    now: i64,
) -> Result<ItemRow, AppError> {
    let v =
        model::validate_media(bytes, filename, title, expected).map_err(AppError::Validation)?;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    let filename: String = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let id = store::insert_media(
        db,
        &store::NewMedia {
            merchant_id,
            kind: v.media_type.kind().as_str(),
            title: &v.title,
            filename: &filename,
            mime: v.media_type.mime(),
            sha256: &sha,
            data: bytes,
        },
        now,
    )
    .await?;
    get(db, merchant_id, id).await
}

pub async fn rename_media(
    db: &Db,
    merchant_id: i64,
    id: i64,
    title: &str,
    now: i64,
) -> Result<ItemRow, AppError> {
    let item = get(db, merchant_id, id).await?;
    if !item.kind().is_media() {
        return Err(AppError::Conflict(Msg::new("library.wrong_kind")));
    }
    let title = title.trim();
    let mut errors = FieldErrors::default();
    if title.is_empty() {
        errors.add("title", Msg::new("error.required"));
    } else if title.chars().count() > model::MAX_TITLE_CHARS {
        errors.add(
            "title",
            Msg::new("error.too_long").arg("max", model::MAX_TITLE_CHARS),
        );
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    store::rename(db, merchant_id, id, title, now).await?;
    get(db, merchant_id, id).await
}

/// Covers must be images of the same merchant.
async fn check_covers(
    db: &Db,
    merchant_id: i64,
    articles: &[ValidArticle],
) -> Result<(), AppError> {
    let mut errors = FieldErrors::default();
    for (i, a) in articles.iter().enumerate() {
        if let Some(cover) = a.cover_item_id {
            let kind = store::kind_of(db, merchant_id, cover).await?;
            if kind.as_deref() != Some("image") {
                errors.add(
                    &format!("articles[{i}].cover_item_id"),
                    Msg::new("library.bad_cover"),
                );
            }
        }
    }
    errors.into_result(())
}

pub async fn create_news(
    db: &Db,
    merchant_id: i64,
    input: &NewsInput,
    now: i64,
) -> Result<ItemRow, AppError> {
    let articles = model::validate_news(input).map_err(AppError::Validation)?;
    check_covers(db, merchant_id, &articles).await?;
    let id = store::insert_news(db, merchant_id, &articles, now).await?;
    get(db, merchant_id, id).await
}

/// Replaces a news item's articles (ids given keep their page and counters).
pub async fn update_news(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &NewsInput,
    now: i64,
) -> Result<ItemRow, AppError> {
    let item = get(db, merchant_id, id).await?;
    if item.kind() != Kind::News {
        return Err(AppError::Conflict(Msg::new("library.wrong_kind")));
    }
    let articles = model::validate_news(input).map_err(AppError::Validation)?;
    check_covers(db, merchant_id, &articles).await?;
    store::replace_articles(db, merchant_id, id, &articles, now).await?;
    // Reply rules send this news with its titles and covers as they are now.
    crate::replies::store::bump_merchant(db, merchant_id).await?;
    get(db, merchant_id, id).await
}

/// Everything that uses an item and would break if it went: the covers of articles, the
/// reply rules that send it and menu buttons. Broadcasts add their uses here through their
/// own `mod.rs` functions.
pub async fn usages(db: &Db, merchant_id: i64, item_id: i64) -> Result<Vec<Usage>, AppError> {
    let mut out = vec![];
    for (rule_id, name) in crate::replies::rules_sending_item(db, merchant_id, item_id).await? {
        out.push(Usage::ReplyRule { rule_id, name });
    }
    for (news_id, title) in store::cover_uses(db, merchant_id, item_id).await? {
        if news_id != item_id {
            out.push(Usage::Cover {
                item_id: news_id,
                article_title: title,
            });
        }
    }
    for (account_id, menu_id, name) in crate::menus::usages(db, merchant_id, item_id).await? {
        out.push(Usage::Menu {
            account_id,
            menu_id,
            name,
        });
    }
    Ok(out)
}

/// Deletes an item unless something uses it (409 with the reason).
pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<(), AppError> {
    get(db, merchant_id, id).await?;
    let usages = usages(db, merchant_id, id).await?;
    if let Some(refusal) = model::deletion_refusal(&usages) {
        return Err(AppError::Conflict(refusal));
    }
    if !store::delete(db, merchant_id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// A field error helper for forms that report on one field.
pub fn file_error(msg: Msg) -> AppError {
    field_error("file", msg)
}

/// A simple cover picture (a two-colour diagonal gradient) as PNG, for demo data and tests:
/// a real image WeChat would accept.
pub fn gradient_png(
    width: u32,
    height: u32,
    from: [u8; 3],
    to: [u8; 3],
) -> Result<Vec<u8>, String> {
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    let mut pixels = Vec::with_capacity(w * h * 3);
    let span = (w + h - 2).max(1) as f64;
    for y in 0..h {
        for x in 0..w {
            let t = (x + y) as f64 / span;
            for c in 0..3 {
                let v = f64::from(from[c]) + (f64::from(to[c]) - f64::from(from[c])) * t;
                pixels.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}
