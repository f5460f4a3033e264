//! The content library (素材) through the real HTTP surface, on SQLite and PostgreSQL: items
//! made, listed, searched, changed and deleted by API and console; uploads checked by their
//! bytes and WeChat's limits; an article's public page counting reads and shares; media
//! served from the database with caching headers; a cover that is in use cannot be
//! deleted; and another merchant's items are 404 everywhere.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::platform::auth::model::Role;

fn png() -> Vec<u8> {
    zhanggui::library::gradient_png(40, 20, [200, 100, 40], [250, 200, 120]).expect("a PNG")
}

fn file_part(bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime)
        .expect("a mime type")
}

async fn upload(
    key: &KeyClient,
    bytes: Vec<u8>,
    name: &str,
    kind: Option<&str>,
) -> (StatusCode, Value) {
    let mut form =
        reqwest::multipart::Form::new().part("file", file_part(bytes, name, "image/png"));
    if let Some(k) = kind {
        form = form.text("kind", k.to_string());
    }
    read_json(
        key.request(Method::POST, "/api/v1/library/media")
            .multipart(form),
    )
    .await
}

fn field_key<'a>(err: &'a Value, field: &str) -> &'a Value {
    &err["error"]["fields"][field]
}

#[tokio::test]
async fn items_are_made_checked_listed_changed_and_deleted_through_the_api() {
    let app = TestApp::spawn().await;
    let m = app.merchant("素材商户").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let key = app.key(&key);

    // A text snippet.
    let (status, text) = read_json(key.request(Method::POST, "/api/v1/library/texts").json(
        &json!({
            "title": "营业时间", "text": "每天 9:00–21:00 营业"
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(text["kind"], "text");
    assert_eq!(text["text"], "每天 9:00–21:00 营业");
    // Too long a title, no text: 422 with both fields.
    let (status, err) = read_json(key.request(Method::POST, "/api/v1/library/texts").json(
        &json!({
            "title": "长".repeat(65), "text": ""
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(field_key(&err, "title").is_string(), "{err}");
    assert!(field_key(&err, "text").is_string(), "{err}");

    // An image: its type read from the bytes.
    let (status, image) = upload(&key, png(), "店招.png", None).await;
    assert_eq!(status, StatusCode::CREATED, "{image}");
    assert_eq!(image["kind"], "image");
    assert_eq!(image["title"], "店招");
    assert_eq!(image["media"]["mime"], "image/png");
    let image_id = image["id"].as_i64().expect("id");
    // Not a picture, whatever its name says.
    let (status, err) = upload(&key, b"GIF? no, just text".to_vec(), "fake.png", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(field_key(&err, "file").is_string(), "{err}");
    // A picture where voice was asked for.
    let (status, err) = upload(&key, png(), "a.mp3", Some("voice")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // Over WeChat's 10 MB for images (within the body limit): refused by the model.
    let mut big = png();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, err) = upload(&key, big, "big.png", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        field_key(&err, "file")
            .as_str()
            .is_some_and(|m| m.contains("10")),
        "{err}"
    );
    // Well over: refused before it is read.
    let mut huge = png();
    huge.resize(11 * 1024 * 1024, 0);
    let (status, _) = upload(&key, huge, "huge.png", None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Voice over 2 MB.
    let mut voice = b"ID3\x04\0\0".to_vec();
    voice.resize(2 * 1024 * 1024 + 1, 0);
    let (status, err) = upload(&key, voice, "v.mp3", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM library_media").await, 1);

    // News: two articles, the first with the image as its cover; the body is sanitized.
    let (status, news) = read_json(key.request(Method::POST, "/api/v1/library/news").json(
        &json!({
            "articles": [
                {"title": "秋季新品", "author": "小王", "cover_item_id": image_id,
                 "body_html": "<p onclick=\"x()\">桂花拿铁<script>alert(1)</script></p>",
                 "content_source_url": "https://example.com/autumn"},
                {"title": "会员日", "body_html": "<p>积分翻倍</p>"}
            ]
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{news}");
    assert_eq!(news["kind"], "news");
    assert_eq!(news["title"], "秋季新品");
    let articles = news["articles"].as_array().expect("articles");
    assert_eq!(articles.len(), 2);
    assert_eq!(articles[0]["body_html"], "<p>桂花拿铁</p>");
    assert_eq!(articles[0]["digest"], "桂花拿铁");
    assert!(
        articles[0]["cover_url"]
            .as_str()
            .is_some_and(|u| u.contains("/m/"))
    );
    let news_id = news["id"].as_i64().expect("id");
    let first = articles[0]["id"].as_i64().expect("id");
    let first_url = articles[0]["url"].as_str().expect("url").to_string();
    // WeChat's limits on an article, each reported on its field.
    let (status, err) = read_json(key.request(Method::POST, "/api/v1/library/news").json(&json!({
        "articles": [{"title": "题".repeat(65), "digest": "摘".repeat(121),
                      "content_source_url": "javascript:alert(1)", "cover_item_id": news_id}]
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    for f in ["title", "digest", "content_source_url"] {
        assert!(
            field_key(&err, &format!("articles[0].{f}")).is_string(),
            "{f}: {err}"
        );
    }
    let nine: Vec<Value> = (0..9)
        .map(|i| json!({"title": format!("第{i}篇")}))
        .collect();
    let (status, err) = read_json(
        key.request(Method::POST, "/api/v1/library/news")
            .json(&json!({ "articles": nine })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    // A cover must be an image.
    let (status, err) = read_json(
        key.request(Method::POST, "/api/v1/library/news")
            .json(&json!({
                "articles": [{"title": "t", "cover_item_id": text["id"]}]
            })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    // Lists: by kind, by words.
    let (status, all) = read_json(key.request(Method::GET, "/api/v1/library/items")).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(3));
    let (_, images) = read_json(key.request(Method::GET, "/api/v1/library/items?kind=image")).await;
    assert_eq!(images["items"].as_array().map(Vec::len), Some(1));
    let (_, found) = read_json(key.request(
        Method::GET,
        &format!("/api/v1/library/items?q={}", url_encode("积分")),
    ))
    .await;
    let ids: Vec<i64> = found["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_i64())
        .collect();
    assert_eq!(
        ids,
        vec![news_id],
        "found by a later article's body? no: by its digest"
    );
    let (status, _) = read_json(key.request(Method::GET, "/api/v1/library/items?kind=nope")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Replace the articles: the first keeps its page and is moved second; a new one leads.
    let (status, changed) = read_json(
        key.request(Method::PUT, &format!("/api/v1/library/news/{news_id}"))
            .json(&json!({"articles": [
                {"title": "新的头条"},
                {"id": first, "title": "秋季新品（更新）", "cover_item_id": image_id}
            ]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["title"], "新的头条");
    assert_eq!(changed["articles"][1]["id"], first);
    assert_eq!(changed["articles"][1]["url"], first_url.as_str());
    assert_eq!(changed["articles"].as_array().map(Vec::len), Some(2));

    // Text edits; a text is no news.
    let tid = text["id"].as_i64().expect("id");
    let (status, t) = read_json(
        key.request(Method::PUT, &format!("/api/v1/library/texts/{tid}"))
            .json(&json!({"title": "营业时间", "text": "周一休息"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["text"], "周一休息");
    let (status, _) = read_json(
        key.request(Method::PUT, &format!("/api/v1/library/news/{tid}"))
            .json(&json!({"articles": [{"title": "x"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, renamed) = read_json(
        key.request(Method::PUT, &format!("/api/v1/library/media/{image_id}"))
            .json(&json!({"title": "门头照片"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["title"], "门头照片");

    // The cover in use cannot go; the news can, and then the image.
    let (status, usages) = read_json(key.request(
        Method::GET,
        &format!("/api/v1/library/items/{image_id}/usages"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usages[0]["kind"], "cover", "{usages}");
    let (status, err) =
        read_json(key.request(Method::DELETE, &format!("/api/v1/library/items/{image_id}"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("秋季新品")),
        "the refusal names the article: {err}"
    );
    let (status, _) =
        read(key.request(Method::DELETE, &format!("/api/v1/library/items/{news_id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) =
        read(key.request(Method::DELETE, &format!("/api/v1/library/items/{image_id}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT COUNT(*) FROM library_media").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM library_articles").await, 0);
    let (status, _) =
        read(key.request(Method::GET, &format!("/api/v1/library/items/{news_id}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_article_page_counts_reads_and_shares_and_media_are_cached() {
    let app = TestApp::spawn().await;
    let m = app.merchant("阅读商户").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let key = app.key(&key);
    let (_, image) = upload(&key, png(), "cover.png", None).await;
    let (status, news) = read_json(key.request(Method::POST, "/api/v1/library/news").json(
        &json!({
            "articles": [{"title": "开业大吉", "author": "掌柜", "digest": "全场八折",
                          "cover_item_id": image["id"], "body_html": "<p>欢迎光临</p>",
                          "content_source_url": "https://example.com/open"}]
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{news}");
    let page_url = news["articles"][0]["url"]
        .as_str()
        .expect("url")
        .to_string();
    let path = page_url
        .strip_prefix(&app.base)
        .expect("on this site")
        .to_string();

    // A visitor (no session): the page, its share card, a read per view.
    let visitor = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (status, html) = read(visitor.get(app.url(&path))).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<h1 class=\"article-title\">开业大吉</h1>"),
        "{html}"
    );
    assert!(html.contains("<p>欢迎光临</p>"));
    assert!(html.contains("property=\"og:title\" content=\"开业大吉\""));
    assert!(html.contains("property=\"og:description\" content=\"全场八折\""));
    assert!(html.contains("property=\"og:image\""));
    assert!(html.contains("https://example.com/open"));
    let (_, _) = read(visitor.get(app.url(&path))).await;
    let (_, got) = read_json(key.request(
        Method::GET,
        &format!("/api/v1/library/items/{}", news["id"]),
    ))
    .await;
    assert_eq!(got["articles"][0]["reads"], 2, "{got}");

    // Shares: once per visitor however often posted; no cookie, no count; no CSRF needed.
    let share = format!("{path}/share");
    let (status, s) = read_json(visitor.post(app.url(&share))).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["counted"], true);
    let (_, s) = read_json(visitor.post(app.url(&share))).await;
    assert_eq!(s["counted"], false);
    let (_, s) = read_json(app.client().post(app.url(&share))).await;
    assert_eq!(s["counted"], false);
    let (_, got) = read_json(key.request(
        Method::GET,
        &format!("/api/v1/library/items/{}", news["id"]),
    ))
    .await;
    assert_eq!(got["articles"][0]["shares"], 1, "{got}");

    // The console shows the counts.
    app.user(m, "reader_owner", Role::Owner).await;
    let s = app.sign_in("reader_owner").await;
    let (status, page) = s.get(&format!("/library/{}", news["id"])).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("阅读 2"), "{page}");
    assert!(page.contains("分享 1"));

    // Unknown tokens are 404.
    let (status, _) = read(visitor.get(app.url("/a/0123456789abcdef0123456789abcdef"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = read(visitor.get(app.url("/a/nope"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The image, from the database, with an ETag and a long cache life.
    let media_path = image["media"]["url"]
        .as_str()
        .and_then(|u| u.strip_prefix(&app.base))
        .expect("media path")
        .to_string();
    let res = visitor
        .get(app.url(&media_path))
        .send()
        .await
        .expect("media");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .is_ok_and(|v| v.contains("max-age=31536000"))
    );
    let etag = res.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(res.bytes().await.expect("bytes").to_vec(), png());
    let res = visitor
        .get(app.url(&media_path))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("media");
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    app.stop().await;
}

#[tokio::test]
async fn the_console_makes_uploads_previews_and_deletes_items() {
    let app = TestApp::spawn().await;
    let m = app.merchant("控制台商户").await;
    app.user(m, "lib_owner", Role::Owner).await;
    let s = app.sign_in("lib_owner").await;
    let (status, page) = s.get("/library").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("素材库还是空的"), "the empty state");

    // A text by form; a bad one shows the form again with the error.
    let (status, page) = s
        .post_form("/library/texts", &[("title", ""), ("text", "x")])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("has-error"), "{page}");
    let (status, _) = s
        .post_form(
            "/library/texts",
            &[("title", "地址"), ("text", "南京西路 1 号")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // An upload by multipart form, its _csrf first.
    let form = reqwest::multipart::Form::new()
        .text("_csrf", s.csrf.clone())
        .text("kind", "image")
        .text("title", "")
        .part("file", file_part(png(), "门头.png", "image/png"));
    let res = s
        .raw(Method::POST, "/library/media")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let image_page = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let image_id: i64 = image_page
        .trim_start_matches("/library/")
        .split('?')
        .next()
        .and_then(|i| i.parse().ok())
        .expect("an id");
    // A text file named .png: the form again, with the reason.
    let form = reqwest::multipart::Form::new()
        .text("_csrf", s.csrf.clone())
        .text("kind", "image")
        .part(
            "file",
            file_part(b"hello".to_vec(), "fake.png", "image/png"),
        );
    let (status, page) = read(s.raw(Method::POST, "/library/media").multipart(form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("无法识别的文件"), "{page}");

    // An article by form, with the image as cover; then a second article.
    let (status, page) = s.get("/library/new?kind=news").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("门头"), "the cover picker lists the image");
    let (status, page) = s
        .post_form("/library/news", &[("title", &"长".repeat(65))])
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("64"), "{page}");
    let image_str = image_id.to_string();
    let res = s
        .raw(Method::POST, "/library/news")
        .form(&[
            ("_csrf", s.csrf.as_str()),
            ("title", "新店开业"),
            ("author", "掌柜"),
            ("cover_item_id", image_str.as_str()),
            ("body_html", "<p>欢迎</p><iframe src=x></iframe>"),
        ])
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let news_page = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let news_path = news_page.split('?').next().expect("path").to_string();
    let (status, _) = s
        .post_form(&format!("{news_path}/articles"), &[("title", "第二篇")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = s.get(&news_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("news-lead"), "a two-article card: {page}");
    assert!(page.contains("第二篇"));
    assert_eq!(
        app.text("SELECT body_html FROM library_articles WHERE title = '新店开业'")
            .await,
        "<p>欢迎</p>"
    );

    // The list: tabs with counts, search.
    let (status, page) = s.get("/library").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("新店开业") && page.contains("地址") && page.contains("门头"));
    let (_, page) = s
        .get(&format!("/library?q={}", url_encode("南京西路")))
        .await;
    assert!(
        page.contains("地址") && !page.contains("新店开业"),
        "{page}"
    );
    let (_, page) = s.get("/library?kind=image").await;
    assert!(page.contains("门头") && !page.contains("新店开业"));
    // Older items page by id: nothing is older than the first item.
    let (status, page) = s.get("/library?before=1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("没有找到符合条件的素材") && page.contains("回到最新"),
        "{page}"
    );

    // The image is a cover: its page says so and delete is refused.
    let (_, page) = s.get(&format!("/library/{image_id}")).await;
    assert!(page.contains("图文《新店开业》的封面"), "{page}");
    let (status, _) = s
        .post_form(&format!("/library/{image_id}/delete"), &[])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = s.post_form(&format!("{news_path}/delete"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = s
        .post_form(&format!("/library/{image_id}/delete"), &[])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT COUNT(*) FROM library_items").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn another_merchants_items_are_404_and_agents_only_look() {
    let app = TestApp::spawn().await;
    let a = app.merchant("甲商户").await;
    let b = app.merchant("乙商户").await;
    let (_, a_key) = app.api_key(a, "a", Role::Owner).await;
    let (_, b_key) = app.api_key(b, "b", Role::Owner).await;
    let a_key = app.key(&a_key);
    let b_key = app.key(&b_key);
    let (_, b_image) = upload(&b_key, png(), "乙的图.png", None).await;
    let (_, b_news) = read_json(
        b_key
            .request(Method::POST, "/api/v1/library/news")
            .json(&json!({
                "articles": [{"title": "乙的秘密文章", "cover_item_id": b_image["id"]}]
            })),
    )
    .await;
    let (_, b_text) = read_json(b_key.request(Method::POST, "/api/v1/library/texts").json(
        &json!({
            "title": "乙的文字", "text": "乙"
        }),
    ))
    .await;
    let (bi, bn, bt) = (
        b_image["id"].as_i64().expect("id"),
        b_news["id"].as_i64().expect("id"),
        b_text["id"].as_i64().expect("id"),
    );
    let ba = b_news["articles"][0]["id"].as_i64().expect("id");

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/library/items/{bn}"), None),
        (
            Method::GET,
            format!("/api/v1/library/items/{bi}/usages"),
            None,
        ),
        (Method::DELETE, format!("/api/v1/library/items/{bt}"), None),
        (
            Method::PUT,
            format!("/api/v1/library/texts/{bt}"),
            Some(json!({"title": "x", "text": "x"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/library/news/{bn}"),
            Some(json!({"articles": [{"title": "x"}]})),
        ),
        (
            Method::PUT,
            format!("/api/v1/library/media/{bi}"),
            Some(json!({"title": "x"})),
        ),
    ] {
        let mut req = a_key.request(method.clone(), &path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, body) = read(req).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // B's image as A's cover: refused as no image of A's.
    let (status, _) = read_json(
        a_key
            .request(Method::POST, "/api/v1/library/news")
            .json(&json!({
                "articles": [{"title": "借图", "cover_item_id": bi}]
            })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = read(a_key.request(Method::GET, "/api/v1/library/items")).await;
    assert!(!list.contains("乙的"), "{list}");

    app.user(a, "jia_owner", Role::Owner).await;
    let s = app.sign_in("jia_owner").await;
    for path in [
        format!("/library/{bn}"),
        format!("/library/{bi}/edit"),
        format!("/library/{bn}/articles/new"),
        format!("/library/{bn}/articles/{ba}/edit"),
    ] {
        let (status, _) = s.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    for path in [
        format!("/library/{bt}"),
        format!("/library/{bt}/delete"),
        format!("/library/{bn}/articles"),
        format!("/library/{bn}/articles/{ba}"),
        format!("/library/{bn}/articles/{ba}/delete"),
        format!("/library/{bn}/articles/{ba}/move"),
    ] {
        let (status, _) = s.post_form(&path, &[("title", "x"), ("text", "x")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, page) = s.get("/library").await;
    assert!(!page.contains("乙的"), "{page}");
    assert_eq!(
        app.text(&format!("SELECT title FROM library_items WHERE id = {bt}"))
            .await,
        "乙的文字",
        "nothing of B's changed"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM library_items").await, 3);

    // An agent of A sees the library but cannot change it.
    app.user(a, "jia_agent", Role::Agent).await;
    let agent = app.sign_in("jia_agent").await;
    let (status, page) = agent.get("/library").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("/library/new"),
        "no add buttons for an agent"
    );
    let (status, _) = agent
        .post_form("/library/texts", &[("title", "x"), ("text", "x")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = agent.get("/library/new?kind=text").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn news_is_pushed_to_drafts_and_media_to_permanent_material() {
    use zhanggui::library::model::{ArticleInput, NewsInput};
    let app = TestApp::spawn().await;
    let m = app.merchant("推送商户").await;
    let account = app.account(m, "推送服务号").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let key = app.key(&key);
    app.user(m, "push-owner", Role::Owner).await;
    let now = app.now();
    let image = zhanggui::library::upload(&app.db, m, &png(), "c.png", "封面", None, now)
        .await
        .expect("image")
        .id;
    let news_of = |cover: Option<i64>, title: &str| NewsInput {
        articles: vec![ArticleInput {
            title: title.into(),
            body_html: "<p>桂花拿铁上市</p>".into(),
            cover_item_id: cover,
            ..Default::default()
        }],
    };
    let news = zhanggui::library::create_news(&app.db, m, &news_of(Some(image), "秋季新品"), now)
        .await
        .expect("news")
        .id;
    let bare = zhanggui::library::create_news(&app.db, m, &news_of(None, "无封面"), now)
        .await
        .expect("news")
        .id;

    // The console: the item's page offers the push for the current account.
    let mut s = app.sign_in("push-owner").await;
    let (status, page) = s.get(&format!("/library/{news}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"at-wechat\""), "{page}");
    assert!(page.contains("推送到草稿箱"), "{page}");
    let account_id = account.id.to_string();
    let (status, _) = s
        .post_form(
            &format!("/library/{news}/wechat"),
            &[("account_id", &account_id)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = s
        .get(&format!("/library/{news}?notice=library_in_drafts"))
        .await;
    assert!(page.contains("已加入公众号的草稿箱"), "the notice");
    assert!(page.contains("已在草稿箱"), "the status");
    let (drafts, _) = zhanggui::library::wechat::cached_ids(&app.db, account.id)
        .await
        .expect("cache");
    let draft = drafts
        .iter()
        .find(|(item, _)| *item == news)
        .map(|(_, id)| id.clone())
        .expect("the draft's media_id is kept");
    assert!(page.contains(&draft), "the page shows the draft's media_id");

    // WeChat wants a cover on every article: the refusal says so, on the page.
    s.refresh_csrf().await;
    let (status, page) = s
        .post_form(
            &format!("/library/{bare}/wechat"),
            &[("account_id", &account_id)],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("没有封面"), "{page}");

    // The API: media become permanent material once; news the same draft while unchanged.
    let push = |id: i64| {
        key.request(Method::POST, &format!("/api/v1/library/items/{id}/wechat"))
            .json(&json!({"account_id": account.id}))
    };
    let (status, first) = read_json(push(image)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["kind"], "material");
    let (_, again) = read_json(push(image)).await;
    assert_eq!(again["media_id"], first["media_id"]);
    let (_, drafted) = read_json(push(news)).await;
    assert_eq!(drafted["kind"], "draft");
    assert_eq!(drafted["media_id"], draft.as_str());
    let (status, refused) = read_json(push(bare)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    // A voice plays on its page, and goes to WeChat as voice material.
    let mut mp3 = b"ID3\x04\0\0".to_vec();
    mp3.resize(4096, 0);
    let voice = zhanggui::library::upload(&app.db, m, &mp3, "v.mp3", "店长留言", None, now)
        .await
        .expect("voice")
        .id;
    let (_, page) = s.get(&format!("/library/{voice}")).await;
    assert!(page.contains("<audio class=\"lib-player\""), "{page}");
    let (status, pushed) = read_json(push(voice)).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["kind"], "material");
    app.stop().await;
}
