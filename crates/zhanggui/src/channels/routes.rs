//! The channel QR code pages (`/channels`: list, add, edit, a channel with its code,
//! downloads and statistics) and `/api/v1/accounts/{account_id}/channels`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ChannelRow;
use super::model::{
    ChannelEdit, ChannelInput, ChannelKind, ChartDay, DayRange, DayStats, MAX_EXPIRE_SECONDS,
    Medium, Reach, Totals, chart,
};
use super::print::{Layout, Sheet, qr_png, sheet_svg};
use crate::accounts::AccountRow;
use crate::platform::api::{ApiJson, Page, encode_cursor};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/channels", get(list_page).post(create_form))
        .route("/channels/new", get(new_page))
        .route("/channels/{id}", get(show_page).post(update_form))
        .route("/channels/{id}/edit", get(edit_page))
        .route("/channels/{id}/archive", post(archive_form))
        .route("/channels/{id}/qrcode.png", get(png_download))
        .route("/channels/{id}/poster.svg", get(svg_download))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update))
        .routes(routes!(api_archive))
        .routes(routes!(api_png))
        .routes(routes!(api_svg))
}

// ---- views ----

/// A channel as the pages show it.
struct ChannelView {
    id: i64,
    name: String,
    kind_key: &'static str,
    scene: String,
    medium_key: &'static str,
    reach_key: &'static str,
    tag_name: Option<String>,
    welcome_text: String,
    poster_text: String,
    /// `channel.status.active` / `.expired` / `.archived`.
    status_key: &'static str,
    status_class: &'static str,
    expires: Option<String>,
    archived: bool,
    created: String,
    totals: Totals,
}

fn status_of(c: &ChannelRow, now: i64) -> (&'static str, &'static str) {
    if c.archived() {
        ("channel.status.archived", "badge")
    } else if c.expired(now) {
        ("channel.status.expired", "badge badge-warn")
    } else {
        ("channel.status.active", "badge badge-ok")
    }
}

fn view(
    c: &ChannelRow,
    tags: &HashMap<i64, String>,
    totals: Totals,
    now: i64,
    tz: chrono_tz::Tz,
) -> ChannelView {
    let (status_key, status_class) = status_of(c, now);
    let medium = c.medium();
    ChannelView {
        id: c.id,
        name: c.name.clone(),
        kind_key: c.kind().label_key(),
        scene: c.scene.clone(),
        medium_key: medium.label_key(),
        reach_key: medium.reach().label_key(),
        tag_name: c.tag_id.and_then(|t| tags.get(&t).cloned()),
        welcome_text: c.welcome_text.clone(),
        poster_text: c.poster_text.clone(),
        status_key,
        status_class,
        expires: c.expires_at.map(|at| format_local(at, tz)),
        archived: c.archived(),
        created: format_local(c.created_at, tz),
        totals,
    }
}

async fn tag_names(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, String)>, AppError> {
    Ok(super::store::tags(&state.db, merchant_id, account_id).await?)
}

/// The account the console works on: the switcher's.
async fn current_account(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
) -> Result<Option<AccountRow>, AppError> {
    match shell.account_id {
        Some(id) => Ok(crate::accounts::get(&state.db, caller.merchant_id, id).await?),
        None => Ok(None),
    }
}

// ---- list ----

struct ReachSummary {
    label_key: &'static str,
    channels: usize,
    totals: Totals,
}

#[derive(Template)]
#[template(path = "channels/list.html")]
struct ListPage {
    shell: Shell,
    account: Option<(i64, String)>,
    channels: Vec<ChannelView>,
    summary: Vec<ReachSummary>,
    all: Totals,
    can_manage: bool,
    with_archived: bool,
    archived_count: usize,
}

#[derive(Deserialize, Default)]
struct ListParams {
    archived: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "channels", "channels.title", &uri).await?;
    let can_manage = caller.role.allows(Permission::ManageFollowers);
    let with_archived = params.archived.is_some();
    let Some(account) = current_account(&state, &caller, &shell).await? else {
        return page(&ListPage {
            shell,
            account: None,
            channels: vec![],
            summary: vec![],
            all: Totals::default(),
            can_manage,
            with_archived,
            archived_count: 0,
        });
    };
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let rows =
        super::store::list(&state.db, caller.merchant_id, account.id, true, 0, 10_000).await?;
    let totals = super::totals(&state.db, caller.merchant_id, account.id).await?;
    let tags: HashMap<i64, String> = tag_names(&state, caller.merchant_id, account.id)
        .await?
        .into_iter()
        .collect();
    let mut summary: Vec<ReachSummary> = [Reach::Offline, Reach::Online, Reach::Other]
        .into_iter()
        .map(|r| ReachSummary {
            label_key: r.label_key(),
            channels: 0,
            totals: Totals::default(),
        })
        .collect();
    let mut all = Totals::default();
    let mut channels = vec![];
    let mut archived_count = 0;
    for c in &rows {
        let t = totals.get(&c.scene).copied().unwrap_or_default();
        let slot = match c.medium().reach() {
            Reach::Offline => 0,
            Reach::Online => 1,
            Reach::Other => 2,
        };
        summary[slot].channels += 1;
        summary[slot].totals.add(&t);
        all.add(&t);
        if c.archived() {
            archived_count += 1;
            if !with_archived {
                continue;
            }
        }
        channels.push(view(c, &tags, t, now, tz));
    }
    page(&ListPage {
        shell,
        account: Some((account.id, account.name.clone())),
        channels,
        summary,
        all,
        can_manage,
        with_archived,
        archived_count,
    })
}

// ---- form ----

#[derive(Default)]
struct FormValues {
    account_id: i64,
    name: String,
    kind: String,
    scene: String,
    expire_days: String,
    medium: String,
    tag_id: String,
    welcome_text: String,
    poster_text: String,
}

#[derive(Template)]
#[template(path = "channels/form.html")]
struct FormPage {
    shell: Shell,
    /// `None` when adding.
    id: Option<i64>,
    account_name: String,
    form: FormValues,
    errors: FieldErrors,
    /// WeChat's refusal, explained.
    refusal: Option<String>,
    kinds: Vec<ChannelKind>,
    mediums: Vec<Medium>,
    tags: Vec<(i64, String)>,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn error_summary(&self) -> Vec<(String, String)> {
        let colon = if self.shell.is_zh() { "：" } else { ": " };
        self.errors
            .0
            .iter()
            .map(|e| {
                let label = self.shell.t(field_label(&e.field));
                let message = self.shell.lang.render(&e.msg);
                (
                    form_field(&e.field).to_string(),
                    format!("{label}{colon}{message}"),
                )
            })
            .collect()
    }

    fn tag_selected(&self, id: &i64) -> bool {
        self.form.tag_id == id.to_string()
    }
}

fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "channel.name",
        "kind" => "channel.kind",
        "scene" => "channel.scene",
        "expire_seconds" => "channel.expire_days",
        "medium" => "channel.medium",
        "tag_id" => "channel.tag",
        "welcome_text" => "channel.welcome_text",
        _ => "channel.poster_text",
    }
}

/// The form's field for an error of the model's field.
fn form_field(field: &str) -> &str {
    match field {
        "expire_seconds" => "expire_days",
        other => other,
    }
}

/// An HTML form posts strings for everything.
#[derive(Deserialize)]
struct ChannelForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    scene: String,
    #[serde(default)]
    expire_days: String,
    #[serde(default)]
    medium: String,
    #[serde(default)]
    tag_id: String,
    #[serde(default)]
    welcome_text: String,
    #[serde(default)]
    poster_text: String,
}

impl ChannelForm {
    fn tag_id(&self) -> Option<i64> {
        self.tag_id.trim().parse().ok()
    }

    /// Days as typed, in seconds; a typed value that is no number is out of range.
    fn expire_seconds(&self) -> Option<i64> {
        let t = self.expire_days.trim();
        if t.is_empty() {
            return None;
        }
        Some(
            t.parse::<f64>()
                .map_or(-1, |d| (d * 86_400.0).round() as i64),
        )
    }

    fn input(&self) -> ChannelInput {
        ChannelInput {
            name: self.name.clone(),
            kind: self.kind.clone(),
            scene: Some(self.scene.clone()),
            expire_seconds: self.expire_seconds(),
            medium: self.medium.clone(),
            tag_id: self.tag_id(),
            welcome_text: self.welcome_text.clone(),
            poster_text: self.poster_text.clone(),
        }
    }

    fn edit(&self) -> ChannelEdit {
        ChannelEdit {
            name: self.name.clone(),
            medium: self.medium.clone(),
            tag_id: self.tag_id(),
            welcome_text: self.welcome_text.clone(),
            poster_text: self.poster_text.clone(),
        }
    }

    fn values(&self, account_id: i64) -> FormValues {
        FormValues {
            account_id,
            name: self.name.clone(),
            kind: self.kind.clone(),
            scene: self.scene.clone(),
            expire_days: self.expire_days.clone(),
            medium: self.medium.clone(),
            tag_id: self.tag_id.clone(),
            welcome_text: self.welcome_text.clone(),
            poster_text: self.poster_text.clone(),
        }
    }
}

struct FormState {
    id: Option<i64>,
    account: AccountRow,
    form: FormValues,
    errors: FieldErrors,
    refusal: Option<String>,
}

async fn render_form(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    f: FormState,
) -> Result<Response, AppError> {
    let title = if f.id.is_some() {
        "channels.edit_title"
    } else {
        "channels.new_title"
    };
    let shell = Shell::for_caller(state, caller, "channels", title, uri).await?;
    let failed = !f.errors.is_empty() || f.refusal.is_some();
    let tags = tag_names(state, caller.merchant_id, f.account.id).await?;
    let mut res = page(&FormPage {
        shell,
        id: f.id,
        account_name: f.account.name.clone(),
        form: f.form,
        errors: f.errors,
        refusal: f.refusal,
        kinds: ChannelKind::ALL.to_vec(),
        mediums: Medium::ALL.to_vec(),
        tags,
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "channels", "channels.new_title", &uri).await?;
    let account = current_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = FormValues {
        account_id: account.id,
        kind: ChannelKind::Permanent.as_str().into(),
        medium: Medium::Poster.as_str().into(),
        expire_days: (MAX_EXPIRE_SECONDS / 86_400).to_string(),
        ..FormValues::default()
    };
    render_form(
        &state,
        &caller,
        &uri,
        FormState {
            id: None,
            account,
            form,
            errors: FieldErrors::default(),
            refusal: None,
        },
    )
    .await
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<ChannelForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account_id: i64 = f
        .account_id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound)?;
    let account = crate::accounts::get(&state.db, caller.merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    match super::create(&state, caller.merchant_id, &account, &f.input()).await {
        Ok(c) => {
            Ok(Redirect::to(&format!("/channels/{}?notice=channel_created", c.id)).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let form = f.values(account.id);
            render_form(
                &state,
                &caller,
                &uri,
                FormState {
                    id: None,
                    account,
                    form,
                    errors,
                    refusal: None,
                },
            )
            .await
        }
        Err(AppError::Conflict(msg)) => {
            let form = f.values(account.id);
            let refusal = Some(caller.lang.render(&msg));
            render_form(
                &state,
                &caller,
                &uri,
                FormState {
                    id: None,
                    account,
                    form,
                    errors: FieldErrors::default(),
                    refusal,
                },
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let c = super::get_any(&state.db, caller.merchant_id, id).await?;
    let account = crate::accounts::get(&state.db, caller.merchant_id, c.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = FormValues {
        account_id: c.account_id,
        name: c.name.clone(),
        kind: c.kind.clone(),
        scene: c.scene.clone(),
        expire_days: String::new(),
        medium: c.medium.clone(),
        tag_id: c.tag_id.map(|t| t.to_string()).unwrap_or_default(),
        welcome_text: c.welcome_text.clone(),
        poster_text: c.poster_text.clone(),
    };
    render_form(
        &state,
        &caller,
        &uri,
        FormState {
            id: Some(id),
            account,
            form,
            errors: FieldErrors::default(),
            refusal: None,
        },
    )
    .await
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<ChannelForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let before = super::get_any(&state.db, caller.merchant_id, id).await?;
    let now = state.clock.now_ms();
    match super::update(&state.db, caller.merchant_id, id, &f.edit(), now).await {
        Ok(_) => Ok(Redirect::to(&format!("/channels/{id}?notice=channel_saved")).into_response()),
        Err(AppError::Validation(errors)) => {
            let account = crate::accounts::get(&state.db, caller.merchant_id, before.account_id)
                .await?
                .ok_or(AppError::NotFound)?;
            let mut form = f.values(before.account_id);
            form.kind = before.kind.clone();
            form.scene = before.scene.clone();
            render_form(
                &state,
                &caller,
                &uri,
                FormState {
                    id: Some(id),
                    account,
                    form,
                    errors,
                    refusal: None,
                },
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn archive_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::archive(&state.db, caller.merchant_id, id, state.clock.now_ms()).await?;
    Ok(Redirect::to(&format!("/channels/{id}?notice=channel_archived")).into_response())
}

// ---- a channel ----

#[derive(Template)]
#[template(path = "channels/show.html")]
struct ShowPage {
    shell: Shell,
    channel: ChannelView,
    account_name: String,
    sandbox: bool,
    can_manage: bool,
    range: DayRange,
    days: Vec<DayStats>,
    bars: Vec<ChartDay>,
    in_range: Totals,
    errors: FieldErrors,
    qr_url: String,
}

impl ShowPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD` in the merchant's time zone (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, inclusive (default: today).
    pub to: Option<String>,
}

fn sum(days: &[DayStats]) -> Totals {
    let mut t = Totals::default();
    for d in days {
        t.new_follows += d.new_follows;
        t.rescans += d.rescans;
        t.scans += d.scans();
        t.unfollows += d.unfollows;
    }
    t
}

async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get_any(&state.db, caller.merchant_id, id).await?;
    let account = crate::accounts::get(&state.db, caller.merchant_id, c.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let (range, errors) = match super::range_of(q.from.as_deref(), q.to.as_deref(), now, tz) {
        Ok(r) => (r, FieldErrors::default()),
        Err(AppError::Validation(e)) => (super::range_of(None, None, now, tz)?, e),
        Err(e) => return Err(e),
    };
    let days = super::days(&state.db, &c, &range, tz).await?;
    let totals = super::totals(&state.db, caller.merchant_id, c.account_id)
        .await?
        .remove(&c.scene)
        .unwrap_or_default();
    let tags: HashMap<i64, String> = tag_names(&state, caller.merchant_id, c.account_id)
        .await?
        .into_iter()
        .collect();
    let mut shell =
        Shell::for_caller(&state, &caller, "channels", "channels.show_title", &uri).await?;
    shell.title = c.name.clone();
    page(&ShowPage {
        channel: view(&c, &tags, totals, now, tz),
        account_name: account.name.clone(),
        sandbox: account.sandbox,
        can_manage: caller.role.allows(Permission::ManageFollowers),
        bars: chart(&days),
        in_range: sum(&days),
        days,
        range,
        errors,
        qr_url: c.qr_url.clone(),
        shell,
    })
}

// ---- downloads ----

fn png_response(c: &ChannelRow) -> Result<Response, AppError> {
    let png = qr_png(&c.qr_url).map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"channel-{}-qrcode.png\"", c.id),
            ),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        png,
    )
        .into_response())
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayoutQuery {
    /// `poster` (A4) or `table_card` (100 × 140 mm); default: the channel's medium.
    pub layout: Option<String>,
}

async fn svg_response(
    state: &AppState,
    caller: &Caller,
    c: &ChannelRow,
    layout: Option<&str>,
) -> Result<Response, AppError> {
    let layout = match layout.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Layout::parse(l).ok_or_else(|| {
            crate::merchants::field_error("layout", Msg::new("channel.bad_layout"))
        })?,
        None if c.medium() == Medium::TableCard => Layout::TableCard,
        None => Layout::Poster,
    };
    let account = crate::accounts::get(&state.db, caller.merchant_id, c.account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let merchant = crate::merchants::get(&state.db, caller.merchant_id)
        .await?
        .map(|m| m.name)
        .unwrap_or_default();
    let svg = sheet_svg(
        layout,
        &Sheet {
            account_name: &account.name,
            merchant_name: &merchant,
            poster_text: &c.poster_text,
            scan_hint: caller.lang.t("channel.scan_hint"),
            channel_name: &c.name,
            qr_url: &c.qr_url,
        },
    )
    .map_err(AppError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "image/svg+xml; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"channel-{}-{}.svg\"",
                    c.id,
                    layout.as_str()
                ),
            ),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        svg,
    )
        .into_response())
}

async fn png_download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get_any(&state.db, caller.merchant_id, id).await?;
    png_response(&c)
}

async fn svg_download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<LayoutQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get_any(&state.db, caller.merchant_id, id).await?;
    svg_response(&state, &caller, &c, q.layout.as_deref()).await
}

// ---- JSON API ----

#[derive(Serialize, ToSchema)]
pub struct ChannelOut {
    pub id: i64,
    pub account_id: i64,
    #[schema(example = "门店海报")]
    pub name: String,
    pub kind: ChannelKind,
    /// What WeChat reports on a scan: the scene id (as text) or scene string.
    #[schema(example = "1")]
    pub scene: String,
    pub medium: Medium,
    /// Offline (poster, table card) or online (link) spread.
    pub reach: Reach,
    pub tag_id: Option<i64>,
    pub tag_name: Option<String>,
    pub welcome_text: String,
    pub poster_text: String,
    /// WeChat's ticket (exchanged for WeChat's own image at showqrcode).
    pub ticket: String,
    /// What the QR code holds.
    #[schema(example = "http://weixin.qq.com/q/02abc")]
    pub qr_url: String,
    /// Temporary codes only.
    pub expires_at: Option<String>,
    pub expired: bool,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
    /// All-time numbers.
    pub totals: Totals,
}

/// A channel with its numbers by day.
#[derive(Serialize, ToSchema)]
pub struct ChannelDetail {
    #[serde(flatten)]
    pub channel: ChannelOut,
    #[schema(example = "2026-11-01")]
    pub from: String,
    #[schema(example = "2026-11-30")]
    pub to: String,
    pub days: Vec<DayStats>,
}

fn channel_out(
    c: &ChannelRow,
    tags: &HashMap<i64, String>,
    totals: Totals,
    now: i64,
    tz: chrono_tz::Tz,
) -> ChannelOut {
    ChannelOut {
        id: c.id,
        account_id: c.account_id,
        name: c.name.clone(),
        kind: c.kind(),
        scene: c.scene.clone(),
        medium: c.medium(),
        reach: c.medium().reach(),
        tag_id: c.tag_id,
        tag_name: c.tag_id.and_then(|t| tags.get(&t).cloned()),
        welcome_text: c.welcome_text.clone(),
        poster_text: c.poster_text.clone(),
        ticket: c.ticket.clone(),
        qr_url: c.qr_url.clone(),
        expires_at: c.expires_at.map(|at| rfc3339(at, tz)),
        expired: c.expired(now),
        archived: c.archived(),
        created_at: rfc3339(c.created_at, tz),
        updated_at: rfc3339(c.updated_at, tz),
        totals,
    }
}

/// The account (of the caller's merchant) named in the path.
async fn account_of(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
) -> Result<AccountRow, AppError> {
    crate::accounts::get(&state.db, caller.merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn out_of(state: &AppState, caller: &Caller, c: &ChannelRow) -> Result<ChannelOut, AppError> {
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let tags: HashMap<i64, String> = tag_names(state, caller.merchant_id, c.account_id)
        .await?
        .into_iter()
        .collect();
    let totals = super::totals(&state.db, caller.merchant_id, c.account_id)
        .await?
        .remove(&c.scene)
        .unwrap_or_default();
    Ok(channel_out(c, &tags, totals, state.clock.now_ms(), tz))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChannelListQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Include archived channels.
    pub archived: Option<bool>,
}

/// Lists an account's channel QR codes with their all-time numbers.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/channels", tag = "channels",
    params(("account_id" = i64, Path), ChannelListQuery),
    responses((status = 200, body = Page<ChannelOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    Query(q): Query<ChannelListQuery>,
) -> Result<Json<Page<ChannelOut>>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let account = account_of(&state, &caller, account_id).await?;
    let (after, limit) = crate::platform::api::ListQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .window()?;
    let rows = super::store::list(
        &state.db,
        caller.merchant_id,
        account.id,
        q.archived.unwrap_or(false),
        after,
        limit,
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let tags: HashMap<i64, String> = tag_names(&state, caller.merchant_id, account.id)
        .await?
        .into_iter()
        .collect();
    let totals = super::totals(&state.db, caller.merchant_id, account.id).await?;
    let now = state.clock.now_ms();
    let items: Vec<ChannelOut> = rows
        .iter()
        .map(|c| {
            let t = totals.get(&c.scene).copied().unwrap_or_default();
            channel_out(c, &tags, t, now, tz)
        })
        .collect();
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|c| encode_cursor(c.id)))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

/// Creates a channel QR code at WeChat and stores it. WeChat's refusals come back as 409
/// (or 422 for the field concerned) with the reason in the caller's language.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/channels", tag = "channels",
    params(("account_id" = i64, Path)), request_body = ChannelInput,
    responses((status = 201, body = ChannelOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    ApiJson(input): ApiJson<ChannelInput>,
) -> Result<(StatusCode, Json<ChannelOut>), AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account = account_of(&state, &caller, account_id).await?;
    let c = super::create(&state, caller.merchant_id, &account, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, &c).await?),
    ))
}

/// One channel QR code with its numbers by day (`from`..`to`, the merchant's days).
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/channels/{channel_id}", tag = "channels",
    params(("account_id" = i64, Path), ("channel_id" = i64, Path), RangeQuery),
    responses((status = 200, body = ChannelDetail), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, channel_id)): Path<(i64, i64)>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<ChannelDetail>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get(&state.db, caller.merchant_id, account_id, channel_id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let range = super::range_of(q.from.as_deref(), q.to.as_deref(), state.clock.now_ms(), tz)?;
    let days = super::days(&state.db, &c, &range, tz).await?;
    Ok(Json(ChannelDetail {
        channel: out_of(&state, &caller, &c).await?,
        from: range.from_text(),
        to: range.to_text(),
        days,
    }))
}

/// Changes a channel's name, medium, tag, welcome and poster text (its code stays).
#[utoipa::path(put, path = "/api/v1/accounts/{account_id}/channels/{channel_id}", tag = "channels",
    params(("account_id" = i64, Path), ("channel_id" = i64, Path)), request_body = ChannelEdit,
    responses((status = 200, body = ChannelOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, channel_id)): Path<(i64, i64)>,
    ApiJson(input): ApiJson<ChannelEdit>,
) -> Result<Json<ChannelOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::get(&state.db, caller.merchant_id, account_id, channel_id).await?;
    let c = super::update(
        &state.db,
        caller.merchant_id,
        channel_id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, &c).await?))
}

/// Archives a channel: no more welcome or tag on scan; its numbers stay.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/channels/{channel_id}/archive", tag = "channels",
    params(("account_id" = i64, Path), ("channel_id" = i64, Path)),
    responses((status = 200, body = ChannelOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_archive(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, channel_id)): Path<(i64, i64)>,
) -> Result<Json<ChannelOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::get(&state.db, caller.merchant_id, account_id, channel_id).await?;
    let c = super::archive(
        &state.db,
        caller.merchant_id,
        channel_id,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(out_of(&state, &caller, &c).await?))
}

/// The QR code as a PNG at print resolution (300 dpi, about 10 cm).
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/channels/{channel_id}/qrcode.png", tag = "channels",
    params(("account_id" = i64, Path), ("channel_id" = i64, Path)),
    responses((status = 200, content_type = "image/png", body = Vec<u8>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_png(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, channel_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get(&state.db, caller.merchant_id, account_id, channel_id).await?;
    png_response(&c)
}

/// A printable poster (A4) or table card (100 × 140 mm) as SVG: the code, the merchant's
/// text and the account's name.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/channels/{channel_id}/poster.svg", tag = "channels",
    params(("account_id" = i64, Path), ("channel_id" = i64, Path), LayoutQuery),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_svg(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, channel_id)): Path<(i64, i64)>,
    Query(q): Query<LayoutQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let c = super::get(&state.db, caller.merchant_id, account_id, channel_id).await?;
    svg_response(&state, &caller, &c, q.layout.as_deref()).await
}
