//! Article pages, as mp.weixin.qq.com/s/… shows a published article: title, author,
//! account, date, cover, then the merchant's HTML, on a narrow column that reads well on a
//! phone.
//!
//! - `GET /s/{article_id}/{idx}`: a published article (idx from 1), the `article_url` of
//!   `freepublish/get`; a deleted one says so, as WeChat does ("该内容已被发布者删除");
//!   unknown ones are 404.
//! - `GET /s/preview/{app_id}/{media_id}/{idx}`: a draft's preview, the `url` of
//!   `draft/get`.
//!
//! Title, author and account name are escaped; the content is the merchant's own HTML and
//! is served as given. No third-party CSS or script.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::Article;
use super::publish::{OWNERS, Owner, published};
use crate::registry::{GLOBAL, StoreError};
use crate::{Sandbox, material};

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/s/{article_id}/{idx}", get(article_page))
        .route("/s/preview/{app_id}/{media_id}/{idx}", get(preview_page))
}

/// `GET /s/{article_id}/{idx}`.
async fn article_page(
    State(sb): State<Sandbox>,
    Path((article_id, idx)): Path<(String, usize)>,
) -> Response {
    let found = published_article(&sb, &article_id, idx).await;
    respond(&sb, found).await
}

/// `GET /s/preview/{app_id}/{media_id}/{idx}`.
async fn preview_page(
    State(sb): State<Sandbox>,
    Path((app_id, media_id, idx)): Path<(String, String, usize)>,
) -> Response {
    let found = super::draft(&sb, &app_id, &media_id).await.map(|d| {
        d.and_then(|d| {
            let article = d.articles.get(idx.checked_sub(1)?)?.clone();
            Some(Shown::Article {
                app_id,
                article: Box::new(article),
                time_s: d.update_time,
            })
        })
    });
    respond(&sb, found).await
}

/// What a page shows.
enum Shown {
    Article {
        app_id: String,
        article: Box<Article>,
        time_s: i64,
    },
    Deleted,
}

async fn published_article(
    sb: &Sandbox,
    article_id: &str,
    idx: usize,
) -> Result<Option<Shown>, StoreError> {
    let Some(owner) = sb.docs.get::<Owner>(GLOBAL, OWNERS, article_id).await? else {
        return Ok(None);
    };
    let Some(doc) = published(sb, &owner.app_id, article_id).await? else {
        return Ok(None);
    };
    let Some(i) = idx.checked_sub(1).filter(|i| *i < doc.articles.len()) else {
        return Ok(None);
    };
    if doc.deleted[i] {
        return Ok(Some(Shown::Deleted));
    }
    Ok(Some(Shown::Article {
        app_id: owner.app_id,
        article: Box::new(doc.articles[i].clone()),
        time_s: doc.create_time,
    }))
}

async fn respond(sb: &Sandbox, found: Result<Option<Shown>, StoreError>) -> Response {
    match found {
        Ok(Some(Shown::Article {
            app_id,
            article,
            time_s,
        })) => match details(sb, &app_id, &article).await {
            Ok((account, cover)) => Html(render(
                &article,
                &account,
                &beijing_date(time_s),
                cover.as_deref(),
            ))
            .into_response(),
            Err(e) => failed(e),
        },
        Ok(Some(Shown::Deleted)) => Html(notice("该内容已被发布者删除")).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, Html(notice("该页面不存在"))).into_response(),
        Err(e) => failed(e),
    }
}

fn failed(e: StoreError) -> Response {
    tracing::error!(error = %e, "sandbox article page failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// The account's name and the cover's address.
async fn details(
    sb: &Sandbox,
    app_id: &str,
    article: &Article,
) -> Result<(String, Option<String>), StoreError> {
    let account = sb
        .docs
        .app(app_id)
        .await?
        .map_or_else(|| app_id.to_string(), |a| a.original_id());
    let cover = material::material(sb, app_id, &article.thumb_media_id)
        .await?
        .map(|m| m.url);
    Ok((account, cover))
}

const STYLE: &str = "body{margin:0;background:#fff;color:#333;font-family:-apple-system,\
BlinkMacSystemFont,'Helvetica Neue','PingFang SC','Microsoft YaHei',sans-serif}\
.page{max-width:677px;margin:0 auto;padding:20px 16px 40px}\
h1{font-size:22px;line-height:1.4;margin:0 0 14px;font-weight:500}\
.meta{font-size:15px;color:rgba(0,0,0,.3);margin-bottom:22px}\
.meta .account{color:#576b95;margin-right:8px}.meta .author{margin-right:8px}\
.cover{width:100%;display:block;margin-bottom:20px}\
.content{font-size:17px;line-height:1.6;overflow-wrap:break-word}\
.content img{max-width:100%!important;height:auto!important}\
.source{display:block;margin-top:30px;font-size:15px;color:#576b95;text-decoration:none}\
.notice{padding:120px 16px;text-align:center;color:rgba(0,0,0,.5);font-size:17px}";

/// The article as WeChat lays it out.
fn render(article: &Article, account: &str, date: &str, cover: Option<&str>) -> String {
    let author = if article.author.is_empty() {
        String::new()
    } else {
        format!("<span class=\"author\">{}</span>", escape(&article.author))
    };
    let cover = cover
        .map(|url| format!("<img class=\"cover\" src=\"{}\" alt=\"\">", escape(url)))
        .unwrap_or_default();
    let source = if article.content_source_url.is_empty() {
        String::new()
    } else {
        format!(
            "<a class=\"source\" href=\"{}\">阅读原文</a>",
            escape(&article.content_source_url)
        )
    };
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta property=\"og:title\" content=\"{title}\">\
         <meta name=\"description\" content=\"{digest}\">\
         <title>{title}</title><style>{STYLE}</style></head><body><div class=\"page\">\
         <h1 id=\"activity-name\">{title}</h1>\
         <div class=\"meta\">{author}<span class=\"account\" id=\"js_name\">{account}</span>\
         <em id=\"publish_time\">{date}</em></div>{cover}\
         <div class=\"content\" id=\"js_content\">{content}</div>{source}</div></body></html>",
        title = escape(&article.title),
        digest = escape(&article.digest),
        account = escape(account),
        content = article.content,
    )
}

fn notice(text: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{text}</title><style>{STYLE}</style></head><body>\
         <div class=\"notice\">{text}</div></body></html>"
    )
}

/// Text safe inside HTML elements and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DD` of a moment in Beijing, as WeChat dates articles.
pub fn beijing_date(unix_s: i64) -> String {
    let days = (unix_s + 8 * 3600).div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_beijing_dates() {
        // 2026-11-30 15:59:59 UTC is 23:59:59 in Beijing; a second later is December.
        assert_eq!(beijing_date(1_796_054_399), "2026-11-30");
        assert_eq!(beijing_date(1_796_054_400), "2026-12-01");
        assert_eq!(beijing_date(0), "1970-01-01");
        assert_eq!(beijing_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn titles_are_escaped_and_content_is_kept() {
        let article = Article {
            title: "<script>x</script> & \"q\"".into(),
            author: "<b>me</b>".into(),
            content: "<p>正文 <strong>粗</strong></p>".into(),
            ..Article::default()
        };
        let html = render(&article, "gh_1", "2026-11-30", Some("http://h/c"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; &amp; &quot;q&quot;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;b&gt;me&lt;/b&gt;"));
        assert!(html.contains("<p>正文 <strong>粗</strong></p>"));
        assert!(html.contains("<img class=\"cover\" src=\"http://h/c\""));
        assert!(html.contains("width=device-width"));
    }
}
