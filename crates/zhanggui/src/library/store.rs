//! SQL for the content library. Every query names the merchant, except the two lookups by
//! an unguessable token that serve the public article page and media URLs.

use super::model::ValidArticle;
use crate::platform::db::{Db, Tx};
use crate::{on_pool, on_tx};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub merchant_id: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub media_id: Option<i64>,
    pub filename: String,
    pub token: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub mime: Option<String>,
    pub size: Option<i64>,
    pub sha256: Option<String>,
}

const ITEM_COLUMNS: &str = "i.id, i.merchant_id, i.kind, i.title, i.body, i.media_id, \
    i.filename, i.token, i.created_at, i.updated_at, m.mime, m.size, m.sha256";
const ITEM_FROM: &str = "library_items i LEFT JOIN library_media m ON m.id = i.media_id AND m.merchant_id = i.merchant_id";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleRow {
    pub id: i64,
    pub merchant_id: i64,
    pub item_id: i64,
    pub position: i64,
    pub title: String,
    pub author: String,
    pub digest: String,
    pub body_html: String,
    pub content_source_url: String,
    pub cover_item_id: Option<i64>,
    pub token: String,
    pub reads: i64,
    pub shares: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const ARTICLE_COLUMNS: &str = "id, merchant_id, item_id, position, title, author, digest, \
    body_html, content_source_url, cover_item_id, token, reads, shares, created_at, updated_at";

/// A medium's bytes, for its public URL.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Blob {
    pub mime: String,
    pub sha256: String,
    pub data: Vec<u8>,
}

fn new_token() -> String {
    crate::platform::auth::model::random_token(16)
}

pub async fn insert_text(
    db: &Db,
    merchant_id: i64,
    title: &str,
    text: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let token = new_token();
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO library_items (merchant_id, kind, title, body, token, created_at, updated_at) \
         VALUES ($1, 'text', $2, $3, $4, $5, $5) RETURNING id"
    )
    .bind(merchant_id)
    .bind(title)
    .bind(text)
    .bind(&token)
    .bind(now)
    .fetch_one(p)
    .await)
}

/// A medium to store.
pub struct NewMedia<'a> {
    pub merchant_id: i64,
    pub kind: &'a str,
    pub title: &'a str,
    pub filename: &'a str,
    pub mime: &'a str,
    pub sha256: &'a str,
    pub data: &'a [u8],
}

pub async fn insert_media(db: &Db, m: &NewMedia<'_>, now: i64) -> Result<i64, sqlx::Error> {
    let token = new_token();
    let mut tx = db.begin().await?;
    let media_id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO library_media (merchant_id, mime, size, sha256, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(m.merchant_id)
    .bind(m.mime)
    .bind(m.data.len() as i64)
    .bind(m.sha256)
    .bind(m.data)
    .bind(now)
    .fetch_one(c)
    .await)?;
    let id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO library_items (merchant_id, kind, title, media_id, filename, token, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id"
    )
    .bind(m.merchant_id)
    .bind(m.kind)
    .bind(m.title)
    .bind(media_id)
    .bind(m.filename)
    .bind(&token)
    .bind(now)
    .fetch_one(c)
    .await)?;
    tx.commit().await?;
    Ok(id)
}

/// A news item with its articles, in one transaction.
pub async fn insert_news(
    db: &Db,
    merchant_id: i64,
    articles: &[ValidArticle],
    now: i64,
) -> Result<i64, sqlx::Error> {
    let title = articles
        .first()
        .map(|a| a.title.as_str())
        .unwrap_or_default();
    let mut tx = db.begin().await?;
    let token = new_token();
    let id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO library_items (merchant_id, kind, title, token, created_at, updated_at) \
         VALUES ($1, 'news', $2, $3, $4, $4) RETURNING id"
    )
    .bind(merchant_id)
    .bind(title)
    .bind(&token)
    .bind(now)
    .fetch_one(c)
    .await)?;
    for (position, a) in articles.iter().enumerate() {
        insert_article(&mut tx, merchant_id, id, position as i64, a, now).await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_article(
    tx: &mut Tx,
    merchant_id: i64,
    item_id: i64,
    position: i64,
    a: &ValidArticle,
    now: i64,
) -> Result<(), sqlx::Error> {
    let token = new_token();
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO library_articles (merchant_id, item_id, position, title, author, digest, \
         body_html, content_source_url, cover_item_id, token, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
    )
    .bind(merchant_id)
    .bind(item_id)
    .bind(position)
    .bind(&a.title)
    .bind(&a.author)
    .bind(&a.digest)
    .bind(&a.body_html)
    .bind(&a.content_source_url)
    .bind(a.cover_item_id)
    .bind(&token)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Replaces a news item's articles: articles named by id keep their page address and
/// counters, the others are removed, new ones added; positions follow the list.
pub async fn replace_articles(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
    articles: &[ValidArticle],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let title = articles
        .first()
        .map(|a| a.title.as_str())
        .unwrap_or_default();
    let mut tx = db.begin().await?;
    let updated = on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE library_items SET title = $3, updated_at = $4 \
         WHERE merchant_id = $1 AND id = $2 AND kind = 'news'"
    )
    .bind(merchant_id)
    .bind(item_id)
    .bind(title)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Ok(false);
    }
    let existing = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM library_articles WHERE merchant_id = $1 AND item_id = $2"
    )
    .bind(merchant_id)
    .bind(item_id)
    .fetch_all(c)
    .await)?;
    let kept: Vec<i64> = articles.iter().filter_map(|a| a.id).collect();
    for id in existing.iter().filter(|id| !kept.contains(id)) {
        on_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM library_article_shares WHERE article_id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
        on_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM library_articles WHERE merchant_id = $1 AND id = $2"
        )
        .bind(merchant_id)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    for (position, a) in articles.iter().enumerate() {
        match a.id.filter(|id| existing.contains(id)) {
            Some(id) => {
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE library_articles SET position = $3, title = $4, author = $5, \
                     digest = $6, body_html = $7, content_source_url = $8, cover_item_id = $9, \
                     updated_at = $10 WHERE merchant_id = $1 AND id = $2"
                )
                .bind(merchant_id)
                .bind(id)
                .bind(position as i64)
                .bind(&a.title)
                .bind(&a.author)
                .bind(&a.digest)
                .bind(&a.body_html)
                .bind(&a.content_source_url)
                .bind(a.cover_item_id)
                .bind(now)
                .execute(c)
                .await
                .map(|_| ()))?;
            }
            None => insert_article(&mut tx, merchant_id, item_id, position as i64, a, now).await?,
        }
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<ItemRow>, sqlx::Error> {
    let sql =
        format!("SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE i.merchant_id = $1 AND i.id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, ItemRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// What a list asks for.
pub struct ListFilter<'a> {
    /// '' for every kind.
    pub kind: &'a str,
    /// Words to find in titles, texts and articles; '' for everything.
    pub q: &'a str,
}

/// A merchant's items. `newest_first`: ids below `cursor` (0: from the newest), else ids
/// above it, oldest first (the API's cursor convention).
pub async fn list(
    db: &Db,
    merchant_id: i64,
    f: &ListFilter<'_>,
    cursor: i64,
    newest_first: bool,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let (window, order) = if newest_first {
        ("($4 = 0 OR i.id < $4)", "DESC")
    } else {
        ("i.id > $4", "ASC")
    };
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE i.merchant_id = $1 \
         AND ($2 = '' OR i.kind = $2) \
         AND ($3 = '' OR LOWER(i.title) LIKE $3 ESCAPE '\\' OR LOWER(i.body) LIKE $3 ESCAPE '\\' \
              OR EXISTS (SELECT 1 FROM library_articles a WHERE a.merchant_id = i.merchant_id \
                 AND a.item_id = i.id AND (LOWER(a.title) LIKE $3 ESCAPE '\\' \
                 OR LOWER(a.digest) LIKE $3 ESCAPE '\\' OR LOWER(a.author) LIKE $3 ESCAPE '\\'))) \
         AND {window} ORDER BY i.id {order} LIMIT $5"
    );
    let pattern = like_pattern(f.q);
    on_pool!(db, |p| sqlx::query_as::<_, ItemRow>(&sql)
        .bind(merchant_id)
        .bind(f.kind)
        .bind(&pattern)
        .bind(cursor)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// `%words%`, lowercased, with LIKE's wildcards escaped; '' for no search.
fn like_pattern(q: &str) -> String {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return String::new();
    }
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// How many items of each kind the merchant has.
pub async fn counts(db: &Db, merchant_id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(
        "SELECT kind, COUNT(*) FROM library_items WHERE merchant_id = $1 GROUP BY kind"
    )
    .bind(merchant_id)
    .fetch_all(p)
    .await)
}

pub async fn update_text(
    db: &Db,
    merchant_id: i64,
    id: i64,
    title: &str,
    text: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE library_items SET title = $3, body = $4, updated_at = $5 \
         WHERE merchant_id = $1 AND id = $2 AND kind = 'text'"
    )
    .bind(merchant_id)
    .bind(id)
    .bind(title)
    .bind(text)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Renames a medium (its bytes never change: their URL is cached for good).
pub async fn rename(
    db: &Db,
    merchant_id: i64,
    id: i64,
    title: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE library_items SET title = $3, updated_at = $4 \
         WHERE merchant_id = $1 AND id = $2 AND kind IN ('image', 'voice', 'video')"
    )
    .bind(merchant_id)
    .bind(id)
    .bind(title)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The articles of some of the merchant's news items, by item and position.
pub async fn articles(
    db: &Db,
    merchant_id: i64,
    item_ids: &[i64],
) -> Result<Vec<ArticleRow>, sqlx::Error> {
    if item_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = item_ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT {ARTICLE_COLUMNS} FROM library_articles WHERE merchant_id = $1 \
         AND item_id IN ({}) ORDER BY item_id, position",
        ids.join(",")
    );
    on_pool!(db, |p| sqlx::query_as::<_, ArticleRow>(&sql)
        .bind(merchant_id)
        .fetch_all(p)
        .await)
}

/// The merchant's images by id (for covers): id → token.
pub async fn image_tokens(
    db: &Db,
    merchant_id: i64,
) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String, String)>(
        "SELECT id, title, token FROM library_items WHERE merchant_id = $1 AND kind = 'image' \
         ORDER BY id DESC"
    )
    .bind(merchant_id)
    .fetch_all(p)
    .await)
}

/// Articles whose cover is the image `item_id`: (news item id, article title).
pub async fn cover_uses(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT item_id, title FROM library_articles WHERE merchant_id = $1 \
         AND cover_item_id = $2 ORDER BY item_id, position"
    )
    .bind(merchant_id)
    .bind(item_id)
    .fetch_all(p)
    .await)
}

/// Deletes an item with its articles and bytes.
pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let media_id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT media_id FROM library_items WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let Some(media_id) = media_id else {
        return Ok(false);
    };
    on_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM library_article_shares WHERE article_id IN \
         (SELECT id FROM library_articles WHERE merchant_id = $1 AND item_id = $2)"
    )
    .bind(merchant_id)
    .bind(id)
    .execute(c)
    .await
    .map(|_| ()))?;
    on_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM library_articles WHERE merchant_id = $1 AND item_id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .execute(c)
    .await
    .map(|_| ()))?;
    on_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM library_items WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .execute(c)
    .await
    .map(|_| ()))?;
    if let Some(media_id) = media_id {
        on_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM library_media WHERE merchant_id = $1 AND id = $2"
        )
        .bind(merchant_id)
        .bind(media_id)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A medium's bytes by its item's public token (the token is the permission).
pub async fn blob_by_token(db: &Db, token: &str) -> Result<Option<Blob>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, Blob>(
        "SELECT m.mime, m.sha256, m.data FROM library_items i \
         JOIN library_media m ON m.id = i.media_id AND m.merchant_id = i.merchant_id \
         WHERE i.token = $1"
    )
    .bind(token)
    .fetch_optional(p)
    .await)
}

/// An article by its public token (the token is the permission).
pub async fn article_by_token(db: &Db, token: &str) -> Result<Option<ArticleRow>, sqlx::Error> {
    let sql = format!("SELECT {ARTICLE_COLUMNS} FROM library_articles WHERE token = $1");
    on_pool!(db, |p| sqlx::query_as::<_, ArticleRow>(&sql)
        .bind(token)
        .fetch_optional(p)
        .await)
}

/// One more read of an article.
pub async fn count_read(db: &Db, article_id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE library_articles SET reads = reads + 1 WHERE id = $1"
    )
    .bind(article_id)
    .execute(p)
    .await
    .map(|_| ()))
}

/// A share by a visitor: counted once per visitor and article. Whether it counted.
pub async fn record_share(
    db: &Db,
    article_id: i64,
    visitor: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let inserted = on_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO library_article_shares (article_id, visitor, created_at) \
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    )
    .bind(article_id)
    .bind(visitor)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if inserted > 0 {
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE library_articles SET shares = shares + 1 WHERE id = $1"
        )
        .bind(article_id)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    tx.commit().await?;
    Ok(inserted > 0)
}

/// The token of one of the merchant's items (a cover's URL).
pub async fn token_of(db: &Db, merchant_id: i64, id: i64) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT token FROM library_items WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(p)
    .await)
}

/// The kind of one of the merchant's items.
pub async fn kind_of(db: &Db, merchant_id: i64, id: i64) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT kind FROM library_items WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(p)
    .await)
}

// ---- WeChat's ids of items (wechat.rs) ----

/// A medium's bytes with what WeChat needs to take it: (kind, title, mime, sha256, bytes).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MediaUpload {
    pub kind: String,
    pub title: String,
    pub mime: String,
    pub sha256: String,
    pub data: Vec<u8>,
}

pub async fn media_upload(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
) -> Result<Option<MediaUpload>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, MediaUpload>(
        "SELECT i.kind, i.title, m.mime, m.sha256, m.data FROM library_items i \
         JOIN library_media m ON m.id = i.media_id AND m.merchant_id = i.merchant_id \
         WHERE i.merchant_id = $1 AND i.id = $2"
    )
    .bind(merchant_id)
    .bind(item_id)
    .fetch_optional(p)
    .await)
}

/// The cached WeChat id of an item's content for an account: (wechat_id, publish_id).
pub async fn wechat_id(
    db: &Db,
    account_id: i64,
    item_id: i64,
    kind: &str,
    sha: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT wechat_id, publish_id FROM library_wechat_ids WHERE account_id = $1 \
         AND item_id = $2 AND kind = $3 AND sha = $4"
    )
    .bind(account_id)
    .bind(item_id)
    .bind(kind)
    .bind(sha)
    .fetch_optional(p)
    .await)
}

/// Remembers WeChat's id (or a publish job under way) of an item's content.
pub struct WeChatId<'a> {
    pub merchant_id: i64,
    pub account_id: i64,
    pub item_id: i64,
    pub kind: &'a str,
    pub sha: &'a str,
    pub wechat_id: &'a str,
    pub publish_id: &'a str,
}

pub async fn set_wechat_id(db: &Db, w: &WeChatId<'_>, now: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query(
        "INSERT INTO library_wechat_ids (merchant_id, account_id, item_id, kind, sha, \
         wechat_id, publish_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (account_id, item_id, kind, sha) DO UPDATE SET \
         wechat_id = excluded.wechat_id, publish_id = excluded.publish_id, \
         updated_at = excluded.updated_at"
    )
    .bind(w.merchant_id)
    .bind(w.account_id)
    .bind(w.item_id)
    .bind(w.kind)
    .bind(w.sha)
    .bind(w.wechat_id)
    .bind(w.publish_id)
    .bind(now)
    .execute(p)
    .await
    .map(|_| ())
    })
}

pub async fn forget_wechat_id(
    db: &Db,
    account_id: i64,
    item_id: i64,
    kind: &str,
    sha: &str,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "DELETE FROM library_wechat_ids WHERE account_id = $1 AND item_id = $2 AND kind = $3 \
         AND sha = $4"
    )
    .bind(account_id)
    .bind(item_id)
    .bind(kind)
    .bind(sha)
    .execute(p)
    .await
    .map(|_| ()))
}

/// (item id, WeChat id) of an account's items of `kind` that WeChat has, newest last.
pub async fn wechat_ids_of_kind(
    db: &Db,
    account_id: i64,
    kind: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT item_id, wechat_id FROM library_wechat_ids WHERE account_id = $1 \
         AND kind = $2 AND wechat_id <> '' ORDER BY updated_at, item_id"
    )
    .bind(account_id)
    .bind(kind)
    .fetch_all(p)
    .await)
}

/// The latest id WeChat gave an item on an account, as material or draft:
/// (kind, wechat_id, when).
pub async fn latest_wechat_id(
    db: &Db,
    account_id: i64,
    item_id: i64,
) -> Result<Option<(String, String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, String, i64)>(
        "SELECT kind, wechat_id, updated_at FROM library_wechat_ids WHERE account_id = $1 \
         AND item_id = $2 AND kind IN ('material', 'draft') AND wechat_id <> '' \
         ORDER BY updated_at DESC LIMIT 1"
    )
    .bind(account_id)
    .bind(item_id)
    .fetch_optional(p)
    .await)
}
