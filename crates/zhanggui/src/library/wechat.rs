//! Library items at WeChat: what a menu button, a reply or a broadcast needs to name an item
//! in WeChat's own terms.
//!
//! - An image, voice or video item is uploaded as permanent material (`material/add_material`)
//!   once per account; its `media_id` is cached by (account, item, SHA-256 of the bytes).
//! - A news item is added to the account's drafts (`draft/add`, kind `draft`: a media_id for
//!   `media_id`/`view_limited` buttons), or added and published (`freepublish/submit`, then
//!   `freepublish/get` until done, kind `article`: an article_id for `article_id` buttons).
//!   Its covers are uploaded as permanent images first. The cache key's SHA-256 covers the
//!   articles' text and covers, so an edited item is sent again.
//!
//! Publishing takes WeChat a while: we wait a few seconds, and when it is not done the
//! publish job is remembered and asked about on the next call instead of publishing twice.

use std::time::Duration;

use sha2::Digest;
use wechat::api::ApiError;
use wechat::api::draft::Article;
use wechat::api::material::{self, VideoDescription};
use wechat::api::media::MediaType;
use wechat::api::publish::{self, PublishState};
use wechat::api::wire::Upload;

use super::model::Kind;
use super::store::{self, WeChatId};
use crate::accounts::AccountRow;
use crate::platform::db::Db;
use crate::platform::error::AppError;
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;

/// Cache kinds.
const MATERIAL: &str = "material";
const DRAFT: &str = "draft";
const ARTICLE: &str = "article";
/// How long a call waits for WeChat to publish an article before saying "try again".
const PUBLISH_WAIT: Duration = Duration::from_secs(8);
const PUBLISH_POLL: Duration = Duration::from_millis(400);

/// WeChat's refusal of a material, draft or publish call, in words the merchant can act on.
pub fn explain_refusal(e: &ApiError) -> AppError {
    tracing::info!(error = %e, "WeChat refused a library call");
    let Some(code) = e.errcode() else {
        return AppError::Upstream(Msg::new("library.wx.unreachable"));
    };
    let key = match code {
        48001 => "library.wx.48001",
        40007 => "library.wx.40007",
        40004 | 40005 | 40006 | 40009 | 40113 => "library.wx.bad_file",
        45003 => "library.wx.45003",
        45004 => "library.wx.45004",
        45110 => "library.wx.45110",
        45002 => "library.wx.45002",
        45005 => "library.wx.45005",
        45009 => "wxerr.45009",
        40013 => "wxerr.40013",
        40001 | 40125 => "wxerr.40125",
        40164 | 89503 => "wxerr.40164",
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    };
    AppError::Conflict(Msg::new(key).arg("code", code))
}

fn extension_of(mime: &str) -> &'static str {
    match mime {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "audio/mpeg" => "mp3",
        "audio/amr" => "amr",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

async fn account(db: &Db, merchant_id: i64, account_id: i64) -> Result<AccountRow, AppError> {
    crate::accounts::get(db, merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The id WeChat knows the item by on this account, for sending or opening it: a permanent
/// material's media_id for an image, voice or video; a draft's media_id for news. Uploads
/// (or adds the draft) the first time and caches the answer.
pub async fn permanent_media_id(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    item_id: i64,
) -> Result<String, AppError> {
    let item = super::get(&state.db, merchant_id, item_id).await?;
    let account = account(&state.db, merchant_id, account_id).await?;
    match item.kind() {
        Kind::Image | Kind::Voice | Kind::Video => material_id(state, &account, item_id).await,
        Kind::News => draft_id(state, &account, item_id).await,
        Kind::Text => Err(AppError::Conflict(Msg::new("library.wx.text_has_no_id"))),
    }
}

/// The article_id of a news item published at WeChat from this account (published the first
/// time, then cached).
pub async fn published_article_id(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    item_id: i64,
) -> Result<String, AppError> {
    let item = super::get(&state.db, merchant_id, item_id).await?;
    if item.kind() != Kind::News {
        return Err(AppError::Conflict(Msg::new("library.wrong_kind")));
    }
    let account = account(&state.db, merchant_id, account_id).await?;
    let (articles, sha) = news_of(state, &account, item_id).await?;
    let db = &state.db;
    let tokens = crate::accounts::tokens::cache_of(state, &account);
    let cached = store::wechat_id(db, account.id, item_id, ARTICLE, &sha).await?;
    let publish_id = match cached {
        Some((id, _)) if !id.is_empty() => return Ok(id),
        Some((_, publish_id)) if !publish_id.is_empty() => publish_id,
        _ => {
            let draft = wechat::api::draft::add(&tokens, &articles)
                .await
                .map_err(|e| explain_refusal(&e))?;
            let submitted = publish::submit(&tokens, &draft)
                .await
                .map_err(|e| explain_refusal(&e))?;
            let pending = WeChatId {
                merchant_id,
                account_id: account.id,
                item_id,
                kind: ARTICLE,
                sha: &sha,
                wechat_id: "",
                publish_id: &submitted.publish_id,
            };
            store::set_wechat_id(db, &pending, state.clock.now_ms()).await?;
            submitted.publish_id
        }
    };
    let deadline = tokio::time::Instant::now() + PUBLISH_WAIT;
    loop {
        let status = publish::get(&tokens, &publish_id)
            .await
            .map_err(|e| explain_refusal(&e))?;
        match (status.state(), status.article_id.as_deref()) {
            (PublishState::Published, Some(article_id)) if !article_id.is_empty() => {
                let done = WeChatId {
                    merchant_id,
                    account_id: account.id,
                    item_id,
                    kind: ARTICLE,
                    sha: &sha,
                    wechat_id: article_id,
                    publish_id: &publish_id,
                };
                store::set_wechat_id(db, &done, state.clock.now_ms()).await?;
                return Ok(article_id.to_string());
            }
            (PublishState::Publishing, _) | (PublishState::Published, _) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(AppError::Conflict(Msg::new("library.wx.publishing")));
                }
                tokio::time::sleep(PUBLISH_POLL).await;
            }
            (_, _) => {
                // Refused or failed: forget the job so that the next call starts afresh.
                store::forget_wechat_id(db, account.id, item_id, ARTICLE, &sha).await?;
                return Err(AppError::Conflict(
                    Msg::new("library.wx.publish_failed").arg("code", status.publish_status),
                ));
            }
        }
    }
}

/// (item id, media_id) of the account's items uploaded as permanent material, for answering
/// with images, voices and videos from memory.
pub async fn cached_media_ids(db: &Db, account_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    store::wechat_ids_of_kind(db, account_id, MATERIAL).await
}

/// Every WeChat id the account has cached, without calling WeChat: (material and draft
/// media_ids, article_ids) by item.
pub async fn cached_ids(
    db: &Db,
    account_id: i64,
) -> Result<(Vec<(i64, String)>, Vec<(i64, String)>), sqlx::Error> {
    let mut media = store::wechat_ids_of_kind(db, account_id, MATERIAL).await?;
    media.extend(store::wechat_ids_of_kind(db, account_id, DRAFT).await?);
    let articles = store::wechat_ids_of_kind(db, account_id, ARTICLE).await?;
    Ok((media, articles))
}

async fn material_id(
    state: &AppState,
    account: &AccountRow,
    item_id: i64,
) -> Result<String, AppError> {
    let db = &state.db;
    let m = store::media_upload(db, account.merchant_id, item_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some((id, _)) = store::wechat_id(db, account.id, item_id, MATERIAL, &m.sha256).await?
        && !id.is_empty()
    {
        return Ok(id);
    }
    let (media_type, video) = match Kind::parse(&m.kind) {
        Some(Kind::Image) => (MediaType::Image, None),
        Some(Kind::Voice) => (MediaType::Voice, None),
        Some(Kind::Video) => (
            MediaType::Video,
            Some(VideoDescription {
                title: m.title.clone(),
                introduction: String::new(),
            }),
        ),
        _ => return Err(AppError::Conflict(Msg::new("library.wrong_kind"))),
    };
    let file = Upload::new(
        format!("item-{item_id}.{}", extension_of(&m.mime)),
        m.data.clone(),
    );
    let tokens = crate::accounts::tokens::cache_of(state, account);
    let added = material::add(&tokens, media_type, &file, video.as_ref())
        .await
        .map_err(|e| explain_refusal(&e))?;
    let row = WeChatId {
        merchant_id: account.merchant_id,
        account_id: account.id,
        item_id,
        kind: MATERIAL,
        sha: &m.sha256,
        wechat_id: &added.media_id,
        publish_id: "",
    };
    store::set_wechat_id(db, &row, state.clock.now_ms()).await?;
    Ok(added.media_id)
}

/// A news item's articles as WeChat's draft takes them (covers uploaded), and the SHA-256
/// of what they say.
async fn news_of(
    state: &AppState,
    account: &AccountRow,
    item_id: i64,
) -> Result<(Vec<Article>, String), AppError> {
    let rows = store::articles(&state.db, account.merchant_id, &[item_id]).await?;
    let mut hash = sha2::Sha256::new();
    let mut articles = vec![];
    for a in &rows {
        let Some(cover) = a.cover_item_id else {
            return Err(AppError::Conflict(
                Msg::new("library.wx.cover_required").arg("name", &a.title),
            ));
        };
        let thumb = material_id(state, account, cover).await?;
        for part in [
            a.title.as_str(),
            a.author.as_str(),
            a.digest.as_str(),
            a.body_html.as_str(),
            a.content_source_url.as_str(),
            thumb.as_str(),
        ] {
            hash.update(part.len().to_le_bytes());
            hash.update(part.as_bytes());
        }
        let content = if a.body_html.trim().is_empty() {
            format!("<p>{}</p>", a.title)
        } else {
            a.body_html.clone()
        };
        articles.push(Article {
            author: a.author.clone(),
            digest: if rows.len() == 1 {
                a.digest.clone()
            } else {
                String::new()
            },
            content_source_url: a.content_source_url.clone(),
            ..Article::news(a.title.clone(), content, thumb)
        });
    }
    if articles.is_empty() {
        return Err(AppError::Conflict(Msg::new("library.wrong_kind")));
    }
    Ok((articles, hex::encode(hash.finalize())))
}

async fn draft_id(
    state: &AppState,
    account: &AccountRow,
    item_id: i64,
) -> Result<String, AppError> {
    let (articles, sha) = news_of(state, account, item_id).await?;
    let db = &state.db;
    if let Some((id, _)) = store::wechat_id(db, account.id, item_id, DRAFT, &sha).await?
        && !id.is_empty()
    {
        return Ok(id);
    }
    let tokens = crate::accounts::tokens::cache_of(state, account);
    let media_id = wechat::api::draft::add(&tokens, &articles)
        .await
        .map_err(|e| explain_refusal(&e))?;
    let row = WeChatId {
        merchant_id: account.merchant_id,
        account_id: account.id,
        item_id,
        kind: DRAFT,
        sha: &sha,
        wechat_id: &media_id,
        publish_id: "",
    };
    store::set_wechat_id(db, &row, state.clock.now_ms()).await?;
    Ok(media_id)
}
