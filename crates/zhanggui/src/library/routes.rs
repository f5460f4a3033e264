//! The library pages (`/library`: list with kind tabs and search, forms for text, uploads and
//! articles, a preview as a follower sees it, delete), `/api/v1/library/...`, and the public
//! pages: an article (`/a/{token}`, with its share counter) and a medium (`/m/{token}`).

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::model::{
    ArticleInput, Kind, MAX_ARTICLES, MAX_UPLOAD_BYTES, NewsInput, TextInput, Usage,
};
use super::{ArticleRow, ItemRow};
use crate::platform::api::{ApiJson, Page};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{Lang, Msg};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

/// Room for the form around an uploaded file.
const UPLOAD_BODY_BYTES: usize = MAX_UPLOAD_BYTES + 64 * 1024;
/// The visitor cookie of article pages: a share counts once per visitor.
const VISITOR_COOKIE: &str = "zg_v";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/library", get(list_page))
        .route("/library/new", get(new_page))
        .route("/library/texts", post(create_text_form))
        .route(
            "/library/media",
            post(upload_form).layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)),
        )
        .route("/library/news", post(create_news_form))
        .route("/library/{id}", get(show_page).post(update_form))
        .route("/library/{id}/edit", get(edit_page))
        .route("/library/{id}/delete", post(delete_form))
        .route("/library/{id}/wechat", post(push_to_wechat_form))
        .route("/library/{id}/articles", post(add_article_form))
        .route("/library/{id}/articles/new", get(new_article_page))
        .route("/library/{id}/articles/{aid}", post(update_article_form))
        .route("/library/{id}/articles/{aid}/edit", get(edit_article_page))
        .route(
            "/library/{id}/articles/{aid}/delete",
            post(delete_article_form),
        )
        .route("/library/{id}/articles/{aid}/move", post(move_article_form))
        .route("/a/{token}", get(article_page))
        .route("/a/{token}/share", post(share))
        .route("/m/{token}", get(media))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_get, api_delete))
        .routes(routes!(api_usages))
        .routes(routes!(api_push_to_wechat))
        .routes(routes!(api_create_text))
        .routes(routes!(api_update_text))
        .routes(routes!(api_upload).layer(DefaultBodyLimit::max(UPLOAD_BODY_BYTES)))
        .routes(routes!(api_rename_media))
        .routes(routes!(api_create_news))
        .routes(routes!(api_update_news))
}

/// Whether a request path is an upload that may carry up to [`MAX_UPLOAD_BYTES`]
/// (platform/web.rs raises its body limit for these).
pub fn is_upload_path(path: &str) -> bool {
    path == "/library/media" || path == "/api/v1/library/media"
}

/// Paths anyone may open without signing in: article pages and media URLs.
pub fn is_public_path(path: &str) -> bool {
    path.starts_with("/a/") || path.starts_with("/m/")
}

// ---- views ----

struct ItemView {
    id: i64,
    kind: &'static str,
    kind_key: &'static str,
    title: String,
    /// A line under the title: the text, the first article's digest, the file's size.
    summary: String,
    /// A picture for the row: the image itself, or the first article's cover.
    thumb: Option<String>,
    updated: String,
    articles: usize,
    reads: i64,
    shares: i64,
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    } else {
        format!("{} KB", (bytes + 1023) / 1024)
    }
}

fn cover_path(article: &ArticleRow, covers: &[(i64, String, String)]) -> Option<String> {
    let id = article.cover_item_id?;
    covers
        .iter()
        .find(|(cid, _, _)| *cid == id)
        .map(|(_, _, token)| format!("/m/{token}"))
}

fn item_view(
    item: &ItemRow,
    articles: &[ArticleRow],
    covers: &[(i64, String, String)],
    tz: chrono_tz::Tz,
) -> ItemView {
    let kind = item.kind();
    let mine: Vec<&ArticleRow> = articles.iter().filter(|a| a.item_id == item.id).collect();
    let summary = match kind {
        Kind::Text => item.body.chars().take(80).collect(),
        Kind::News => mine.first().map(|a| a.digest.clone()).unwrap_or_default(),
        _ => format!(
            "{} · {}",
            item.mime.clone().unwrap_or_default(),
            size_text(item.size.unwrap_or(0))
        ),
    };
    let thumb = match kind {
        Kind::Image => item.media_path(),
        Kind::News => mine.first().and_then(|a| cover_path(a, covers)),
        _ => None,
    };
    ItemView {
        id: item.id,
        kind: kind.as_str(),
        kind_key: kind.label_key(),
        title: item.title.clone(),
        summary,
        thumb,
        updated: format_local(item.updated_at, tz),
        articles: mine.len(),
        reads: mine.iter().map(|a| a.reads).sum(),
        shares: mine.iter().map(|a| a.shares).sum(),
    }
}

fn form_error_summary(
    shell: &Shell,
    errors: &FieldErrors,
    label: fn(&str) -> &'static str,
) -> Vec<(String, String)> {
    let colon = if shell.is_zh() { "：" } else { ": " };
    errors
        .0
        .iter()
        .map(|e| {
            let field = e.field.rsplit('.').next().unwrap_or(&e.field).to_string();
            let text = format!(
                "{}{colon}{}",
                shell.t(label(&field)),
                shell.lang.render(&e.msg)
            );
            (field, text)
        })
        .collect()
}

fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "library.field.title",
        "text" => "library.field.text",
        "file" => "library.field.file",
        "author" => "library.field.author",
        "digest" => "library.field.digest",
        "body_html" => "library.field.body",
        "content_source_url" => "library.field.source_url",
        "cover_item_id" => "library.field.cover",
        _ => "library.field.articles",
    }
}

/// Errors of `articles[i].field` as errors of `field` (a console form edits one article).
fn one_article_errors(errors: FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::default();
    for e in errors.0 {
        let field = e.field.rsplit('.').next().unwrap_or(&e.field).to_string();
        out.add(&field, e.msg);
    }
    out
}

// ---- list ----

struct TabView {
    href: String,
    label_key: &'static str,
    count: i64,
    active: bool,
}

#[derive(Template)]
#[template(path = "library/list.html")]
struct ListPage {
    shell: Shell,
    tabs: Vec<TabView>,
    kind: String,
    q: String,
    items: Vec<ItemView>,
    can_manage: bool,
    total: i64,
    /// The next (older) page, and whether this is a later page.
    older: Option<String>,
    paged: bool,
    /// This view's first page.
    newest: String,
}

#[derive(Deserialize, Default)]
struct ListParams {
    kind: Option<String>,
    q: Option<String>,
    /// Items older than this id (the next page).
    before: Option<i64>,
}

/// The console shows the newest items first, this many at most per view.
const CONSOLE_LIST_LIMIT: i64 = 200;

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewLibrary)?;
    let shell = Shell::for_caller(&state, &caller, "library", "library.title", &uri).await?;
    let kind = params
        .kind
        .as_deref()
        .and_then(Kind::parse)
        .map(Kind::as_str)
        .unwrap_or("");
    let q = params.q.unwrap_or_default().trim().to_string();
    let db = &state.db;
    let m = caller.merchant_id;
    let before = params.before.filter(|b| *b > 0).unwrap_or(0);
    let rows = super::store::list(
        db,
        m,
        &super::store::ListFilter { kind, q: &q },
        before,
        true,
        CONSOLE_LIST_LIMIT,
    )
    .await?;
    let news_ids: Vec<i64> = rows
        .iter()
        .filter(|r| r.kind() == Kind::News)
        .map(|r| r.id)
        .collect();
    let articles = super::store::articles(db, m, &news_ids).await?;
    let covers = super::store::image_tokens(db, m).await?;
    let tz = crate::merchants::timezone(db, m).await?;
    let counts = super::store::counts(db, m).await?;
    let count_of = |k: &str| {
        counts
            .iter()
            .filter(|(kk, _)| k.is_empty() || kk == k)
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    let q_part = if q.is_empty() {
        String::new()
    } else {
        format!(
            "q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        )
    };
    let mut tabs = vec![TabView {
        href: format!(
            "/library{}",
            if q_part.is_empty() {
                String::new()
            } else {
                format!("?{q_part}")
            }
        ),
        label_key: "library.kind.all",
        count: count_of(""),
        active: kind.is_empty(),
    }];
    for k in Kind::ALL {
        let sep = if q_part.is_empty() { "" } else { "&" };
        tabs.push(TabView {
            href: format!("/library?kind={}{sep}{q_part}", k.as_str()),
            label_key: k.label_key(),
            count: count_of(k.as_str()),
            active: kind == k.as_str(),
        });
    }
    let older = (rows.len() as i64 == CONSOLE_LIST_LIMIT)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|last| {
            let mut href = format!("/library?before={last}");
            if !kind.is_empty() {
                href.push_str(&format!("&kind={kind}"));
            }
            if !q_part.is_empty() {
                href.push_str(&format!("&{q_part}"));
            }
            href
        });
    let newest = tabs
        .iter()
        .find(|t| t.active)
        .map(|t| t.href.clone())
        .unwrap_or_else(|| "/library".into());
    page(&ListPage {
        older,
        newest,
        paged: before > 0,
        shell,
        tabs,
        kind: kind.to_string(),
        q,
        items: rows
            .iter()
            .map(|r| item_view(r, &articles, &covers, tz))
            .collect(),
        can_manage: caller.role.allows(Permission::ManageLibrary),
        total: count_of(""),
    })
}

// ---- text ----

#[derive(Template)]
#[template(path = "library/text_form.html")]
struct TextFormPage {
    shell: Shell,
    id: Option<i64>,
    title: String,
    text: String,
    errors: FieldErrors,
}

impl TextFormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn error_summary(&self) -> Vec<(String, String)> {
        form_error_summary(&self.shell, &self.errors, field_label)
    }
}

#[derive(Deserialize, Default)]
struct TextForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

impl TextForm {
    fn input(&self) -> TextInput {
        TextInput {
            title: self.title.clone(),
            text: self.text.clone(),
        }
    }
}

async fn text_form_page(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: Option<i64>,
    f: TextForm,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let key = if id.is_some() {
        "library.edit_text_title"
    } else {
        "library.new_text_title"
    };
    let shell = Shell::for_caller(state, caller, "library", key, uri).await?;
    let failed = !errors.is_empty();
    let mut res = page(&TextFormPage {
        shell,
        id,
        title: f.title,
        text: f.text,
        errors,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn create_text_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<TextForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    match super::create_text(
        &state.db,
        caller.merchant_id,
        &f.input(),
        state.clock.now_ms(),
    )
    .await
    {
        Ok(item) => Ok(redirect_saved(item.id, "library_created")),
        Err(AppError::Validation(errors)) => {
            text_form_page(&state, &caller, &uri, None, f, errors).await
        }
        Err(e) => Err(e),
    }
}

fn redirect_saved(id: i64, notice: &str) -> Response {
    Redirect::to(&format!("/library/{id}?notice={notice}")).into_response()
}

// ---- uploads ----

#[derive(Template)]
#[template(path = "library/upload_form.html")]
struct UploadPage {
    shell: Shell,
    kind: String,
    title: String,
    errors: FieldErrors,
}

impl UploadPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn error_summary(&self) -> Vec<(String, String)> {
        form_error_summary(&self.shell, &self.errors, field_label)
    }

    fn accept(&self) -> &'static str {
        match self.kind.as_str() {
            "voice" => "audio/mpeg,audio/amr,.mp3,.amr",
            "video" => "video/mp4,.mp4",
            _ => "image/jpeg,image/png,image/gif,image/bmp",
        }
    }

    fn hint_key(&self) -> &'static str {
        match self.kind.as_str() {
            "voice" => "library.upload_hint.voice",
            "video" => "library.upload_hint.video",
            _ => "library.upload_hint.image",
        }
    }
}

fn upload_title_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Voice => "library.new_voice_title",
        Kind::Video => "library.new_video_title",
        _ => "library.new_image_title",
    }
}

async fn upload_page(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    kind: Kind,
    title: String,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let shell = Shell::for_caller(state, caller, "library", upload_title_key(kind), uri).await?;
    let failed = !errors.is_empty();
    let mut res = page(&UploadPage {
        shell,
        kind: kind.as_str().to_string(),
        title,
        errors,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// The fields of an upload form: file (name, bytes), title, kind.
#[derive(Default)]
struct Upload {
    filename: String,
    bytes: axum::body::Bytes,
    title: String,
    kind: Option<Kind>,
}

fn too_large() -> AppError {
    crate::merchants::field_error(
        "file",
        Msg::new("library.upload_too_large").arg("max_mb", MAX_UPLOAD_BYTES / 1024 / 1024),
    )
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, AppError> {
    let mut up = Upload::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::BadRequest(Msg::new("error.bad_form"))
        }
    })? {
        match field.name() {
            Some("file") => {
                up.filename = field.file_name().unwrap_or_default().to_string();
                up.bytes = field.bytes().await.map_err(|_| too_large())?;
            }
            Some("title") => {
                up.title = field
                    .text()
                    .await
                    .map_err(|_| AppError::BadRequest(Msg::new("error.bad_form")))?;
            }
            Some("kind") => {
                let k = field
                    .text()
                    .await
                    .map_err(|_| AppError::BadRequest(Msg::new("error.bad_form")))?;
                up.kind = Kind::parse(k.trim()).filter(|k| k.is_media());
            }
            _ => {}
        }
    }
    Ok(up)
}

async fn upload_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    multipart: Multipart,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let up = match read_upload(multipart).await {
        Ok(up) => up,
        Err(AppError::Validation(errors)) => {
            return upload_page(&state, &caller, &uri, Kind::Image, String::new(), errors).await;
        }
        Err(e) => return Err(e),
    };
    let kind = up.kind.unwrap_or(Kind::Image);
    match super::upload(
        &state.db,
        caller.merchant_id,
        &up.bytes,
        &up.filename,
        &up.title,
        Some(kind),
        state.clock.now_ms(),
    )
    .await
    {
        Ok(item) => Ok(redirect_saved(item.id, "library_uploaded")),
        Err(AppError::Validation(errors)) => {
            upload_page(&state, &caller, &uri, kind, up.title, errors).await
        }
        Err(e) => Err(e),
    }
}

// ---- new ----

#[derive(Deserialize, Default)]
struct NewParams {
    kind: Option<String>,
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(p): Query<NewParams>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    match p
        .kind
        .as_deref()
        .and_then(Kind::parse)
        .unwrap_or(Kind::News)
    {
        Kind::Text => {
            text_form_page(
                &state,
                &caller,
                &uri,
                None,
                TextForm::default(),
                FieldErrors::default(),
            )
            .await
        }
        Kind::News => {
            article_form_page(
                &state,
                &caller,
                &uri,
                ArticleFormState {
                    item_id: None,
                    article_id: None,
                    form: ArticleForm::default(),
                    errors: FieldErrors::default(),
                },
            )
            .await
        }
        k => {
            upload_page(
                &state,
                &caller,
                &uri,
                k,
                String::new(),
                FieldErrors::default(),
            )
            .await
        }
    }
}

// ---- articles ----

#[derive(Deserialize, Default, Clone)]
struct ArticleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    body_html: String,
    #[serde(default)]
    content_source_url: String,
    #[serde(default)]
    cover_item_id: String,
}

impl ArticleForm {
    fn input(&self, id: Option<i64>) -> ArticleInput {
        ArticleInput {
            id,
            title: self.title.clone(),
            author: self.author.clone(),
            digest: self.digest.clone(),
            body_html: self.body_html.clone(),
            content_source_url: self.content_source_url.clone(),
            cover_item_id: self.cover_item_id.trim().parse().ok(),
        }
    }

    fn of(a: &ArticleRow) -> ArticleForm {
        ArticleForm {
            title: a.title.clone(),
            author: a.author.clone(),
            digest: a.digest.clone(),
            body_html: a.body_html.clone(),
            content_source_url: a.content_source_url.clone(),
            cover_item_id: a.cover_item_id.map(|c| c.to_string()).unwrap_or_default(),
        }
    }
}

fn input_of(a: &ArticleRow) -> ArticleInput {
    ArticleForm::of(a).input(Some(a.id))
}

#[derive(Template)]
#[template(path = "library/article_form.html")]
struct ArticleFormPage {
    shell: Shell,
    item_id: Option<i64>,
    article_id: Option<i64>,
    form: ArticleForm,
    errors: FieldErrors,
    /// The merchant's images: (id, title, token).
    covers: Vec<(i64, String, String)>,
}

impl ArticleFormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn error_summary(&self) -> Vec<(String, String)> {
        form_error_summary(&self.shell, &self.errors, field_label)
    }

    /// The editor's button labels, as JSON (library_editor.js).
    fn editor_labels(&self) -> String {
        let t = |k: &str| self.shell.t(k);
        serde_json::json!({
            "p": t("library.editor.paragraph"),
            "h": t("library.editor.heading"),
            "b": t("library.editor.bold"),
            "i": t("library.editor.italic"),
            "ul": t("library.editor.list"),
            "quote": t("library.editor.quote"),
            "link": t("library.editor.link"),
            "link_prompt": t("library.editor.link_prompt"),
            "image": t("library.editor.image"),
            "html": t("library.editor.html"),
        })
        .to_string()
    }

    fn cover_selected(&self, id: &i64) -> bool {
        self.form.cover_item_id == id.to_string()
    }

    fn action(&self) -> String {
        match (self.item_id, self.article_id) {
            (Some(i), Some(a)) => format!("/library/{i}/articles/{a}"),
            (Some(i), None) => format!("/library/{i}/articles"),
            _ => "/library/news".to_string(),
        }
    }

    fn back(&self) -> String {
        match self.item_id {
            Some(i) => format!("/library/{i}"),
            None => "/library?kind=news".to_string(),
        }
    }
}

struct ArticleFormState {
    item_id: Option<i64>,
    article_id: Option<i64>,
    form: ArticleForm,
    errors: FieldErrors,
}

async fn article_form_page(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    s: ArticleFormState,
) -> Result<Response, AppError> {
    let key = if s.article_id.is_some() {
        "library.edit_article_title"
    } else {
        "library.new_article_title"
    };
    let shell = Shell::for_caller(state, caller, "library", key, uri).await?;
    let covers = super::store::image_tokens(&state.db, caller.merchant_id).await?;
    let failed = !s.errors.is_empty();
    let mut res = page(&ArticleFormPage {
        shell,
        item_id: s.item_id,
        article_id: s.article_id,
        form: s.form,
        errors: s.errors,
        covers,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn create_news_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<ArticleForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let input = NewsInput {
        articles: vec![f.input(None)],
    };
    match super::create_news(&state.db, caller.merchant_id, &input, state.clock.now_ms()).await {
        Ok(item) => Ok(redirect_saved(item.id, "library_created")),
        Err(AppError::Validation(errors)) => {
            let s = ArticleFormState {
                item_id: None,
                article_id: None,
                form: f,
                errors: one_article_errors(errors),
            };
            article_form_page(&state, &caller, &uri, s).await
        }
        Err(e) => Err(e),
    }
}

/// A news item of the caller's merchant with its articles (404 for anything else).
async fn news_of(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> Result<(ItemRow, Vec<ArticleRow>), AppError> {
    let (item, articles) = super::get_with_articles(&state.db, caller.merchant_id, id).await?;
    if item.kind() != Kind::News {
        return Err(AppError::NotFound);
    }
    Ok((item, articles))
}

async fn new_article_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    if articles.len() >= MAX_ARTICLES {
        return Err(AppError::Conflict(
            Msg::new("library.too_many_articles").arg("max", MAX_ARTICLES),
        ));
    }
    let s = ArticleFormState {
        item_id: Some(id),
        article_id: None,
        form: ArticleForm::default(),
        errors: FieldErrors::default(),
    };
    article_form_page(&state, &caller, &uri, s).await
}

/// Saves a news item's articles after a console change to one of them; errors are shown
/// on that article's form.
async fn save_articles(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: i64,
    inputs: Vec<ArticleInput>,
    edited: Option<(usize, Option<i64>, ArticleForm)>,
) -> Result<Response, AppError> {
    let input = NewsInput { articles: inputs };
    match super::update_news(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await
    {
        Ok(_) => Ok(redirect_saved(id, "library_saved")),
        Err(AppError::Validation(errors)) => match edited {
            Some((index, article_id, form)) => {
                let prefix = format!("articles[{index}].");
                let mut own = FieldErrors::default();
                for e in errors.0 {
                    if let Some(field) = e.field.strip_prefix(&prefix) {
                        own.add(field, e.msg);
                    } else {
                        own.add("articles", e.msg);
                    }
                }
                let s = ArticleFormState {
                    item_id: Some(id),
                    article_id,
                    form,
                    errors: own,
                };
                article_form_page(state, caller, uri, s).await
            }
            None => Err(AppError::Validation(errors)),
        },
        Err(e) => Err(e),
    }
}

async fn add_article_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<ArticleForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    let mut inputs: Vec<ArticleInput> = articles.iter().map(input_of).collect();
    let index = inputs.len();
    inputs.push(f.input(None));
    save_articles(&state, &caller, &uri, id, inputs, Some((index, None, f))).await
}

async fn edit_article_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((id, aid)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    let a = articles
        .iter()
        .find(|a| a.id == aid)
        .ok_or(AppError::NotFound)?;
    let s = ArticleFormState {
        item_id: Some(id),
        article_id: Some(aid),
        form: ArticleForm::of(a),
        errors: FieldErrors::default(),
    };
    article_form_page(&state, &caller, &uri, s).await
}

async fn update_article_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((id, aid)): Path<(i64, i64)>,
    Form(f): Form<ArticleForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    let index = articles
        .iter()
        .position(|a| a.id == aid)
        .ok_or(AppError::NotFound)?;
    let mut inputs: Vec<ArticleInput> = articles.iter().map(input_of).collect();
    inputs[index] = f.input(Some(aid));
    save_articles(
        &state,
        &caller,
        &uri,
        id,
        inputs,
        Some((index, Some(aid), f)),
    )
    .await
}

async fn delete_article_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((id, aid)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    if !articles.iter().any(|a| a.id == aid) {
        return Err(AppError::NotFound);
    }
    if articles.len() == 1 {
        return Err(AppError::Conflict(Msg::new("library.last_article")));
    }
    let inputs = articles
        .iter()
        .filter(|a| a.id != aid)
        .map(input_of)
        .collect();
    save_articles(&state, &caller, &uri, id, inputs, None).await
}

#[derive(Deserialize, Default)]
struct MoveForm {
    #[serde(default)]
    dir: String,
}

async fn move_article_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path((id, aid)): Path<(i64, i64)>,
    Form(f): Form<MoveForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (_, articles) = news_of(&state, &caller, id).await?;
    let index = articles
        .iter()
        .position(|a| a.id == aid)
        .ok_or(AppError::NotFound)?;
    let mut inputs: Vec<ArticleInput> = articles.iter().map(input_of).collect();
    let other = match f.dir.as_str() {
        "up" if index > 0 => Some(index - 1),
        "down" if index + 1 < inputs.len() => Some(index + 1),
        _ => None,
    };
    if let Some(other) = other {
        inputs.swap(index, other);
    }
    save_articles(&state, &caller, &uri, id, inputs, None).await
}

// ---- an item ----

struct ArticleView {
    id: i64,
    title: String,
    author: String,
    digest: String,
    cover: Option<String>,
    page: String,
    reads: i64,
    shares: i64,
}

#[derive(Template)]
#[template(path = "library/show.html")]
struct ShowPage {
    shell: Shell,
    item: ItemView,
    text: String,
    media: Option<String>,
    filename: String,
    articles: Vec<ArticleView>,
    usages: Vec<String>,
    can_manage: bool,
    can_add_article: bool,
    created: String,
    /// The current account's copy at WeChat (not for text, or with no account chosen).
    at_wechat: Option<AtWeChat>,
    /// WeChat's refusal of the last push, in words.
    wechat_error: Option<String>,
    /// A browser can play the voice or video here (AMR voice it cannot).
    playable: bool,
}

async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewLibrary)?;
    render_show(&state, &caller, &uri, id, None).await
}

/// Where the item is at the current account's WeChat.
struct AtWeChat {
    account_id: i64,
    /// The id WeChat gave it and when, if it went there.
    id: Option<(String, String)>,
    /// Edited since it went: sending it again makes a new draft.
    changed_since: bool,
}

async fn at_wechat(
    state: &AppState,
    item: &ItemRow,
    account_id: Option<i64>,
    tz: chrono_tz::Tz,
) -> Result<Option<AtWeChat>, AppError> {
    let Some(account_id) = account_id.filter(|_| item.kind() != Kind::Text) else {
        return Ok(None);
    };
    let latest = super::store::latest_wechat_id(&state.db, account_id, item.id).await?;
    Ok(Some(AtWeChat {
        account_id,
        changed_since: latest
            .as_ref()
            .is_some_and(|(_, _, at)| item.updated_at > *at),
        id: latest.map(|(_, id, at)| (id, format_local(at, tz))),
    }))
}

async fn render_show(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: i64,
    wechat_error: Option<String>,
) -> Result<Response, AppError> {
    let db = &state.db;
    let m = caller.merchant_id;
    let (item, articles) = super::get_with_articles(db, m, id).await?;
    let covers = super::store::image_tokens(db, m).await?;
    let tz = crate::merchants::timezone(db, m).await?;
    let usages = super::usages(db, m, id)
        .await?
        .iter()
        .map(|u| usage_text(caller.lang, u))
        .collect();
    let mut shell = Shell::for_caller(state, caller, "library", "library.title", uri).await?;
    shell.title = item.title.clone();
    let views = articles
        .iter()
        .map(|a| ArticleView {
            id: a.id,
            title: a.title.clone(),
            author: a.author.clone(),
            digest: a.digest.clone(),
            cover: cover_path(a, &covers),
            page: a.page_path(),
            reads: a.reads,
            shares: a.shares,
        })
        .collect();
    let status = if wechat_error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let mut res = page(&ShowPage {
        item: item_view(&item, &articles, &covers, tz),
        text: item.body.clone(),
        media: item.media_path(),
        filename: item.filename.clone(),
        can_add_article: item.kind() == Kind::News && articles.len() < MAX_ARTICLES,
        articles: views,
        usages,
        can_manage: caller.role.allows(Permission::ManageLibrary),
        created: format_local(item.created_at, tz),
        at_wechat: at_wechat(state, &item, shell.account_id, tz).await?,
        playable: matches!(item.mime.as_deref(), Some("audio/mpeg" | "video/mp4")),
        wechat_error,
        shell,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(Deserialize)]
struct PushForm {
    account_id: i64,
}

/// Sends the item to the account's WeChat: news into its drafts (草稿箱), where the merchant
/// can edit and publish it in WeChat's own back office; images, voice and video as permanent
/// material. Once per version of the item: sending it again unchanged keeps the same id.
async fn push_to_wechat_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<PushForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, f.account_id).await?;
    let item = super::get(&state.db, caller.merchant_id, id).await?;
    match crate::library::wechat::permanent_media_id(&state, caller.merchant_id, account.id, id)
        .await
    {
        Ok(_) => {
            let notice = if item.kind() == Kind::News {
                "library_in_drafts"
            } else {
                "library_at_wechat"
            };
            Ok(redirect_saved(id, notice))
        }
        Err(AppError::Conflict(msg) | AppError::Upstream(msg)) => {
            let error = caller.lang.render(&msg);
            render_show(&state, &caller, &uri, id, Some(error)).await
        }
        Err(e) => Err(e),
    }
}

fn usage_text(lang: Lang, u: &Usage) -> String {
    let msg = match u {
        Usage::Cover { article_title, .. } => {
            Msg::new("library.usage.cover").arg("name", article_title)
        }
        Usage::ReplyRule { name, .. } => Msg::new("library.usage.reply_rule").arg("name", name),
        Usage::Menu { name, .. } => Msg::new("library.usage.menu_button").arg("name", name),
        Usage::Broadcast { name, .. } => Msg::new("library.usage.broadcast").arg("name", name),
    };
    lang.render(&msg)
}

#[derive(Template)]
#[template(path = "library/rename_form.html")]
struct RenamePage {
    shell: Shell,
    id: i64,
    title: String,
    media: Option<String>,
    kind: String,
    errors: FieldErrors,
}

impl RenamePage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let (item, articles) = super::get_with_articles(&state.db, caller.merchant_id, id).await?;
    match item.kind() {
        Kind::Text => {
            let f = TextForm {
                title: item.title.clone(),
                text: item.body.clone(),
            };
            text_form_page(&state, &caller, &uri, Some(id), f, FieldErrors::default()).await
        }
        Kind::News => match articles.first() {
            Some(a) => {
                Ok(Redirect::to(&format!("/library/{id}/articles/{}/edit", a.id)).into_response())
            }
            None => Err(AppError::NotFound),
        },
        k => {
            let shell =
                Shell::for_caller(&state, &caller, "library", "library.rename_title", &uri).await?;
            page(&RenamePage {
                shell,
                id,
                title: item.title.clone(),
                media: item.media_path(),
                kind: k.as_str().to_string(),
                errors: FieldErrors::default(),
            })
        }
    }
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<TextForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let item = super::get(&state.db, caller.merchant_id, id).await?;
    let now = state.clock.now_ms();
    let result = match item.kind() {
        Kind::Text => super::update_text(&state.db, caller.merchant_id, id, &f.input(), now).await,
        Kind::News => return Err(AppError::NotFound),
        _ => super::rename_media(&state.db, caller.merchant_id, id, &f.title, now).await,
    };
    match result {
        Ok(_) => Ok(redirect_saved(id, "library_saved")),
        Err(AppError::Validation(errors)) if item.kind() == Kind::Text => {
            text_form_page(&state, &caller, &uri, Some(id), f, errors).await
        }
        Err(AppError::Validation(errors)) => {
            let shell =
                Shell::for_caller(&state, &caller, "library", "library.rename_title", &uri).await?;
            let mut res = page(&RenamePage {
                shell,
                id,
                title: f.title,
                media: item.media_path(),
                kind: item.kind.clone(),
                errors,
            })?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageLibrary)?;
    super::delete(&state.db, caller.merchant_id, id).await?;
    Ok(Redirect::to("/library?notice=library_deleted").into_response())
}

// ---- public pages ----

#[derive(Template)]
#[template(path = "library/article.html")]
struct ArticlePage {
    lang: Lang,
    title: String,
    author: String,
    date: String,
    digest: String,
    body_html: String,
    source_url: String,
    /// Absolute URLs for the share card.
    url: String,
    image: Option<String>,
    token: String,
    reads: i64,
}

impl ArticlePage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    fn asset_v(&self) -> &'static str {
        crate::platform::web::asset_version()
    }
}

fn token_ok(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The mobile article page. Every view counts as a read; the visitor cookie is set so that
/// a share from this browser counts once.
async fn article_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !token_ok(&token) {
        return Err(AppError::NotFound);
    }
    let db = &state.db;
    let a = super::store::article_by_token(db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    super::store::count_read(db, a.id).await?;
    let tz = crate::merchants::timezone(db, a.merchant_id).await?;
    let base = state.config.public_url.clone();
    let image = match a.cover_item_id {
        Some(c) => super::store::token_of(db, a.merchant_id, c)
            .await?
            .map(|t| format!("{base}/m/{t}")),
        None => None,
    };
    let date = format_local(a.created_at, tz)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    let html = crate::platform::web::render(&ArticlePage {
        lang: Lang::from_headers(&headers),
        title: a.title.clone(),
        author: a.author.clone(),
        date,
        digest: a.digest.clone(),
        body_html: a.body_html.clone(),
        source_url: a.content_source_url.clone(),
        url: format!("{base}{}", a.page_path()),
        image,
        token: a.token.clone(),
        reads: a.reads + 1,
    })?;
    let mut res = axum::response::Html(html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    // The phone simulator (same site) shows article pages inside its phone, as WeChat shows
    // them when a menu button or a news card is tapped; other sites may not frame them.
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("SAMEORIGIN"),
    );
    if crate::platform::auth::cookie(&headers, VISITOR_COOKIE).is_none() {
        let v = crate::platform::auth::model::random_token(12);
        if let Ok(value) = header::HeaderValue::from_str(&format!(
            "{VISITOR_COOKIE}={v}; Path=/a/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        )) {
            h.insert(header::SET_COOKIE, value);
        }
    }
    Ok(res)
}

#[derive(Serialize, ToSchema)]
struct ShareOut {
    counted: bool,
}

/// A share from the article page. No CSRF token (the page is public): a share counts once
/// per visitor cookie, so replaying it changes nothing.
async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !token_ok(&token) {
        return Err(AppError::NotFound);
    }
    let a = super::store::article_by_token(&state.db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let counted = match crate::platform::auth::cookie(&headers, VISITOR_COOKIE) {
        Some(v) if v.len() <= 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => {
            super::store::record_share(&state.db, a.id, &v, state.clock.now_ms()).await?
        }
        _ => false,
    };
    Ok(Json(ShareOut { counted }).into_response())
}

/// A medium's bytes. The URL of a token never changes content, so browsers and proxies may
/// keep it for a year.
async fn media(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if !token_ok(&token) {
        return Err(AppError::NotFound);
    }
    let blob = super::store::blob_by_token(&state.db, &token)
        .await?
        .ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", blob.sha256);
    let cache = "public, max-age=31536000, immutable";
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
        )
            .into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, blob.mime),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        blob.data,
    )
        .into_response())
}

// ---- JSON API ----

#[derive(Serialize, ToSchema)]
pub struct MediaOut {
    #[schema(example = "image/png")]
    pub mime: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The public URL of the bytes (cached for good by browsers).
    pub url: String,
    pub filename: String,
}

#[derive(Serialize, ToSchema)]
pub struct ArticleOut {
    pub id: i64,
    /// 0 is the big article of the card.
    pub position: i64,
    pub title: String,
    pub author: String,
    pub digest: String,
    /// Sanitized HTML.
    pub body_html: String,
    pub content_source_url: String,
    pub cover_item_id: Option<i64>,
    pub cover_url: Option<String>,
    /// The public mobile page.
    pub url: String,
    pub reads: i64,
    pub shares: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    /// Text snippets only.
    pub text: Option<String>,
    /// Images, voice and video.
    pub media: Option<MediaOut>,
    /// News only: its articles in order.
    pub articles: Vec<ArticleOut>,
    pub created_at: String,
    pub updated_at: String,
}

fn item_out(
    base: &str,
    item: &ItemRow,
    articles: &[ArticleRow],
    covers: &[(i64, String, String)],
    tz: chrono_tz::Tz,
) -> ItemOut {
    let kind = item.kind();
    ItemOut {
        id: item.id,
        kind,
        title: item.title.clone(),
        text: (kind == Kind::Text).then(|| item.body.clone()),
        media: item.media_path().map(|path| MediaOut {
            mime: item.mime.clone().unwrap_or_default(),
            size: item.size.unwrap_or(0),
            sha256: item.sha256.clone().unwrap_or_default(),
            url: format!("{base}{path}"),
            filename: item.filename.clone(),
        }),
        articles: articles
            .iter()
            .filter(|a| a.item_id == item.id)
            .map(|a| ArticleOut {
                id: a.id,
                position: a.position,
                title: a.title.clone(),
                author: a.author.clone(),
                digest: a.digest.clone(),
                body_html: a.body_html.clone(),
                content_source_url: a.content_source_url.clone(),
                cover_item_id: a.cover_item_id,
                cover_url: cover_path(a, covers).map(|p| format!("{base}{p}")),
                url: format!("{base}{}", a.page_path()),
                reads: a.reads,
                shares: a.shares,
            })
            .collect(),
        created_at: rfc3339(item.created_at, tz),
        updated_at: rfc3339(item.updated_at, tz),
    }
}

async fn out_of(state: &AppState, caller: &Caller, id: i64) -> Result<ItemOut, AppError> {
    let db = &state.db;
    let (item, articles) = super::get_with_articles(db, caller.merchant_id, id).await?;
    let covers = super::store::image_tokens(db, caller.merchant_id).await?;
    let tz = crate::merchants::timezone(db, caller.merchant_id).await?;
    Ok(item_out(
        &state.config.public_url,
        &item,
        &articles,
        &covers,
        tz,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemListQuery {
    /// Only this kind: text, image, voice, video or news.
    pub kind: Option<String>,
    /// Words to find in titles, texts, and articles' titles, digests and authors.
    pub q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the merchant's library items, oldest first.
#[utoipa::path(get, path = "/api/v1/library/items", tag = "library", params(ItemListQuery),
    responses((status = 200, body = Page<ItemOut>), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ItemListQuery>,
) -> Result<Json<Page<ItemOut>>, AppError> {
    caller.require(Permission::ViewLibrary)?;
    let kind = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => "",
        Some(k) => Kind::parse(k)
            .map(Kind::as_str)
            .ok_or_else(|| crate::merchants::field_error("kind", Msg::new("library.bad_kind")))?,
    };
    let (after, limit) = crate::platform::api::ListQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .window()?;
    let db = &state.db;
    let m = caller.merchant_id;
    let words = q.q.clone().unwrap_or_default();
    let rows = super::store::list(
        db,
        m,
        &super::store::ListFilter { kind, q: &words },
        after,
        false,
        limit,
    )
    .await?;
    let news: Vec<i64> = rows
        .iter()
        .filter(|r| r.kind() == Kind::News)
        .map(|r| r.id)
        .collect();
    let articles = super::store::articles(db, m, &news).await?;
    let covers = super::store::image_tokens(db, m).await?;
    let tz = crate::merchants::timezone(db, m).await?;
    let base = &state.config.public_url;
    let items = rows
        .iter()
        .map(|r| item_out(base, r, &articles, &covers, tz))
        .collect();
    Ok(Json(Page::of(items, limit, |i: &ItemOut| i.id)))
}

/// One item (news with its articles and their read and share counts).
#[utoipa::path(get, path = "/api/v1/library/items/{id}", tag = "library",
    params(("id" = i64, Path)),
    responses((status = 200, body = ItemOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ItemOut>, AppError> {
    caller.require(Permission::ViewLibrary)?;
    Ok(Json(out_of(&state, &caller, id).await?))
}

/// Deletes an item; refused (409) while a cover, reply rule, menu or broadcast uses it.
#[utoipa::path(delete, path = "/api/v1/library/items/{id}", tag = "library",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageLibrary)?;
    super::delete(&state.db, caller.merchant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What uses an item (and keeps it from being deleted).
#[utoipa::path(get, path = "/api/v1/library/items/{id}/usages", tag = "library",
    params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Usage>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_usages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Usage>>, AppError> {
    caller.require(Permission::ViewLibrary)?;
    super::get(&state.db, caller.merchant_id, id).await?;
    Ok(Json(
        super::usages(&state.db, caller.merchant_id, id).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
struct PushIn {
    /// The official account whose WeChat receives the item.
    account_id: i64,
}

#[derive(Serialize, ToSchema)]
struct PushOut {
    /// `draft` for news (in the account's 草稿箱), `material` for images, voice and video.
    kind: &'static str,
    /// What WeChat calls it on that account.
    media_id: String,
}

/// Sends an item to an account's WeChat: news into its drafts, media as permanent material
/// (once per version of the item). 409 with WeChat's refusal explained.
#[utoipa::path(post, path = "/api/v1/library/items/{id}/wechat", tag = "library",
    params(("id" = i64, Path)), request_body = PushIn,
    responses((status = 200, body = PushOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_push_to_wechat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<PushIn>,
) -> Result<Json<PushOut>, AppError> {
    caller.require(Permission::ManageLibrary)?;
    let account =
        crate::followers::account_of(&state, caller.merchant_id, input.account_id).await?;
    let item = super::get(&state.db, caller.merchant_id, id).await?;
    let media_id =
        crate::library::wechat::permanent_media_id(&state, caller.merchant_id, account.id, id)
            .await?;
    Ok(Json(PushOut {
        kind: if item.kind() == Kind::News {
            "draft"
        } else {
            "material"
        },
        media_id,
    }))
}

/// Adds a text snippet.
#[utoipa::path(post, path = "/api/v1/library/texts", tag = "library", request_body = TextInput,
    responses((status = 201, body = ItemOut), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create_text(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TextInput>,
) -> Result<(StatusCode, Json<ItemOut>), AppError> {
    caller.require(Permission::ManageLibrary)?;
    let item =
        super::create_text(&state.db, caller.merchant_id, &input, state.clock.now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, item.id).await?),
    ))
}

/// Changes a text snippet.
#[utoipa::path(put, path = "/api/v1/library/texts/{id}", tag = "library",
    params(("id" = i64, Path)), request_body = TextInput,
    responses((status = 200, body = ItemOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update_text(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<TextInput>,
) -> Result<Json<ItemOut>, AppError> {
    caller.require(Permission::ManageLibrary)?;
    super::update_text(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, id).await?))
}

/// A multipart upload: `file` (required), `title` (default: the file's name), `kind`
/// (image, voice or video; default: what the bytes are).
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    title: Option<String>,
    kind: Option<String>,
}

/// Uploads an image (jpg/png/gif/bmp ≤ 10 MB), voice (mp3/amr ≤ 2 MB) or video (mp4 ≤
/// 10 MB). The type is read from the bytes, not the file name.
#[utoipa::path(post, path = "/api/v1/library/media", tag = "library",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = ItemOut), (status = 413, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_upload(
    State(state): State<AppState>,
    caller: Caller,
    multipart: Multipart,
) -> Result<(StatusCode, Json<ItemOut>), AppError> {
    caller.require(Permission::ManageLibrary)?;
    let up = read_upload(multipart).await?;
    let item = super::upload(
        &state.db,
        caller.merchant_id,
        &up.bytes,
        &up.filename,
        &up.title,
        up.kind,
        state.clock.now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, item.id).await?),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RenameInput {
    pub title: String,
}

/// Renames an image, voice or video (its bytes never change).
#[utoipa::path(put, path = "/api/v1/library/media/{id}", tag = "library",
    params(("id" = i64, Path)), request_body = RenameInput,
    responses((status = 200, body = ItemOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_rename_media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<RenameInput>,
) -> Result<Json<ItemOut>, AppError> {
    caller.require(Permission::ManageLibrary)?;
    super::rename_media(
        &state.db,
        caller.merchant_id,
        id,
        &input.title,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, id).await?))
}

/// Adds a news item of 1 to 8 articles (bodies are sanitized HTML; covers are image items).
#[utoipa::path(post, path = "/api/v1/library/news", tag = "library", request_body = NewsInput,
    responses((status = 201, body = ItemOut), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create_news(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewsInput>,
) -> Result<(StatusCode, Json<ItemOut>), AppError> {
    caller.require(Permission::ManageLibrary)?;
    let item =
        super::create_news(&state.db, caller.merchant_id, &input, state.clock.now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, item.id).await?),
    ))
}

/// Replaces a news item's articles. Articles given with their `id` keep their page address
/// and counters; articles left out are removed.
#[utoipa::path(put, path = "/api/v1/library/news/{id}", tag = "library",
    params(("id" = i64, Path)), request_body = NewsInput,
    responses((status = 200, body = ItemOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update_news(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<NewsInput>,
) -> Result<Json<ItemOut>, AppError> {
    caller.require(Permission::ManageLibrary)?;
    super::update_news(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, id).await?))
}
