//! The flow pages (`/flows`: the account's flows with how many followers started and
//! finished each; a flow's editor with its answers per option) and
//! `/api/v1/accounts/{account_id}/flows`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::FlowRow;
use super::model::{Field, FlowInput, MAX_OPTIONS, MAX_STEPS, OptionInput, StepInput, letter};
use crate::accounts::AccountRow;
use crate::platform::api::ApiJson;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::rfc3339;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flows", get(list_page).post(create_form))
        .route("/flows/new", get(new_page))
        .route("/flows/{id}", get(edit_page).post(update_form))
        .route("/flows/{id}/delete", post(delete_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_delete))
}

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

struct FlowView {
    id: i64,
    name: String,
    enabled: bool,
    steps: usize,
    started: i64,
    finished: i64,
}

#[derive(Template)]
#[template(path = "flows/list.html")]
struct ListPage {
    shell: Shell,
    has_account: bool,
    can_manage: bool,
    flows: Vec<FlowView>,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewReplies)?;
    let shell = Shell::for_caller(&state, &caller, "flows", "flows.title", &uri).await?;
    let can_manage = caller.role.allows(Permission::ManageReplies);
    let Some(account) = current_account(&state, &caller, &shell).await? else {
        return page(&ListPage {
            shell,
            has_account: false,
            can_manage,
            flows: vec![],
        });
    };
    let mut flows = vec![];
    for f in super::store::list(&state.db, caller.merchant_id, account.id).await? {
        let (started, finished) = super::store::reach(&state.db, caller.merchant_id, f.id).await?;
        flows.push(FlowView {
            id: f.id,
            steps: f.input().steps.len(),
            name: f.name,
            enabled: f.enabled,
            started,
            finished,
        });
    }
    page(&ListPage {
        shell,
        has_account: true,
        can_manage,
        flows,
    })
}

// ---- the editor ----

struct OptionSlot {
    j: usize,
    letter: char,
    label: String,
    tag: String,
    reply: String,
    next: String,
    /// How many chose it (editing an existing flow).
    count: i64,
}

struct StepSlot {
    i: usize,
    number: usize,
    /// `number` as text, for its name ("第 2 步").
    label: String,
    question: String,
    field: String,
    next: String,
    options: Vec<OptionSlot>,
}

#[derive(Template)]
#[template(path = "flows/form.html")]
struct FormPage {
    shell: Shell,
    id: Option<i64>,
    account_id: i64,
    account_name: String,
    name: String,
    enabled: bool,
    idle_minutes: String,
    intro: String,
    reask: String,
    done: String,
    steps: Vec<StepSlot>,
    tags: Vec<(String, String)>,
    fields: Vec<(String, &'static str)>,
    numbers: Vec<String>,
    errors: FieldErrors,
    can_manage: bool,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn step_err(&self, i: &usize, what: &str) -> Option<String> {
        self.err(&format!("s{i}_{what}"))
    }

    fn option_err(&self, i: &usize, j: &usize, what: &str) -> Option<String> {
        self.err(&format!("s{i}_o{j}_{what}"))
    }

    fn step_name(&self, n: &str) -> String {
        self.shell
            .lang
            .render(&crate::platform::i18n::Msg::new("flows.step_n").arg("n", n))
    }
}

/// The form's slots for a flow (empty ones to fill up to the limits).
fn slots(flow: &FlowInput, counts: &HashMap<(i64, String), i64>) -> Vec<StepSlot> {
    (0..MAX_STEPS)
        .map(|i| {
            let step = flow.steps.get(i).cloned().unwrap_or_default();
            let options = (0..MAX_OPTIONS)
                .map(|j| {
                    let o = step.options.get(j).cloned().unwrap_or_default();
                    OptionSlot {
                        j,
                        letter: letter(j),
                        label: o.label,
                        tag: o.tag_id.map(|t| t.to_string()).unwrap_or_default(),
                        reply: o.reply,
                        next: o.next.map(|n| n.to_string()).unwrap_or_default(),
                        count: counts
                            .get(&(i as i64, letter(j).to_string()))
                            .copied()
                            .unwrap_or(0),
                    }
                })
                .collect();
            StepSlot {
                i,
                number: i + 1,
                label: (i + 1).to_string(),
                question: step.question,
                field: step
                    .field
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default(),
                next: step.next.map(|n| n.to_string()).unwrap_or_default(),
                options,
            }
        })
        .collect()
}

struct Editing<'a> {
    id: Option<i64>,
    account: &'a AccountRow,
    flow: FlowInput,
    /// The form's own step slots (what was typed, when re-showing a refused form).
    slots: Option<Vec<StepSlot>>,
    errors: FieldErrors,
}

async fn render_form(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    e: Editing<'_>,
) -> Result<Response, AppError> {
    let title = if e.id.is_some() {
        "flows.edit_title"
    } else {
        "flows.new_title"
    };
    let shell = Shell::for_caller(state, caller, "flows", title, uri).await?;
    let counts: HashMap<(i64, String), i64> = match e.id {
        Some(id) => super::store::answer_counts(&state.db, caller.merchant_id, id)
            .await?
            .into_iter()
            .map(|(step, choice, n)| ((step, choice), n))
            .collect(),
        None => HashMap::new(),
    };
    let tags = crate::channels::store::tags(&state.db, caller.merchant_id, e.account.id)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    let failed = !e.errors.is_empty();
    let mut res = page(&FormPage {
        fields: Field::ALL
            .iter()
            .map(|f| (f.as_str().to_string(), shell.t(f.label_key())))
            .collect(),
        shell,
        id: e.id,
        account_id: e.account.id,
        account_name: e.account.name.clone(),
        name: e.flow.name.clone(),
        enabled: e.flow.enabled,
        idle_minutes: e.flow.idle_minutes.to_string(),
        intro: e.flow.intro.clone(),
        reask: e.flow.reask.clone(),
        done: e.flow.done.clone(),
        steps: e.slots.unwrap_or_else(|| slots(&e.flow, &counts)),
        tags,
        numbers: (1..=MAX_STEPS).map(|n| n.to_string()).collect(),
        errors: e.errors,
        can_manage: caller.role.allows(Permission::ManageReplies),
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
    caller.require(Permission::ManageReplies)?;
    let shell = Shell::for_caller(&state, &caller, "flows", "flows.new_title", &uri).await?;
    let account = current_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let flow = FlowInput {
        enabled: true,
        idle_minutes: 30,
        reask: shell.t("flows.default_reask").to_string(),
        done: shell.t("flows.default_done").to_string(),
        ..FlowInput::default()
    };
    let editing = Editing {
        id: None,
        account: &account,
        flow,
        slots: None,
        errors: FieldErrors::default(),
    };
    render_form(&state, &caller, &uri, editing).await
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewReplies)?;
    let row = super::get(&state.db, caller.merchant_id, id).await?;
    let account = crate::followers::account_of(&state, caller.merchant_id, row.account_id).await?;
    let editing = Editing {
        id: Some(id),
        account: &account,
        flow: row.input(),
        slots: None,
        errors: FieldErrors::default(),
    };
    render_form(&state, &caller, &uri, editing).await
}

/// A posted form: the flow it describes, the slots as typed, and where each model step and
/// option came from (empty slots are skipped, and "go to step n" follows its step).
struct Posted {
    flow: FlowInput,
    slots: Vec<StepSlot>,
    step_slot: Vec<usize>,
    option_slot: Vec<Vec<usize>>,
}

fn posted(f: &HashMap<String, String>) -> Posted {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let slots: Vec<StepSlot> = (0..MAX_STEPS)
        .map(|i| StepSlot {
            i,
            number: i + 1,
            label: (i + 1).to_string(),
            question: get(&format!("s{i}_question")),
            field: get(&format!("s{i}_field")),
            next: get(&format!("s{i}_next")),
            options: (0..MAX_OPTIONS)
                .map(|j| OptionSlot {
                    j,
                    letter: letter(j),
                    label: get(&format!("s{i}_o{j}_label")),
                    tag: get(&format!("s{i}_o{j}_tag")),
                    reply: get(&format!("s{i}_o{j}_reply")),
                    next: get(&format!("s{i}_o{j}_next")),
                    count: 0,
                })
                .collect(),
        })
        .collect();
    let used = |s: &StepSlot| {
        !s.question.trim().is_empty() || s.options.iter().any(|o| !o.label.trim().is_empty())
    };
    let step_slot: Vec<usize> = slots.iter().filter(|s| used(s)).map(|s| s.i).collect();
    // "Go to step n" names the form's n-th slot; the model counts only the used ones.
    let renumber = |next: &str| -> Option<usize> {
        let n: usize = next.trim().parse().ok()?;
        Some(
            step_slot
                .iter()
                .position(|&i| i + 1 == n)
                .map_or(usize::MAX, |p| p + 1),
        )
    };
    let mut option_slot = vec![];
    let steps = step_slot
        .iter()
        .map(|&i| {
            let s = &slots[i];
            let kept: Vec<&OptionSlot> = s
                .options
                .iter()
                .filter(|o| !o.label.trim().is_empty())
                .collect();
            option_slot.push(kept.iter().map(|o| o.j).collect());
            StepInput {
                question: s.question.clone(),
                options: kept
                    .iter()
                    .map(|o| OptionInput {
                        label: o.label.clone(),
                        tag_id: o.tag.trim().parse().ok(),
                        reply: o.reply.clone(),
                        next: renumber(&o.next),
                    })
                    .collect(),
                field: Field::parse(&s.field),
                next: renumber(&s.next),
            }
        })
        .collect();
    let flow = FlowInput {
        name: get("name"),
        enabled: f.contains_key("enabled"),
        idle_minutes: get("idle_minutes").trim().parse().unwrap_or(-1),
        intro: get("intro"),
        reask: get("reask"),
        done: get("done"),
        steps,
    };
    Posted {
        flow,
        slots,
        step_slot,
        option_slot,
    }
}

impl Posted {
    /// The model's field names as the form's (`steps.1.options.0.label` → `s2_o0_label`).
    fn form_errors(&self, model: FieldErrors) -> FieldErrors {
        let mut out = FieldErrors::default();
        for e in model.0 {
            let parts: Vec<&str> = e.field.split('.').collect();
            let field = match parts.as_slice() {
                ["steps", i, "options", j, what] => {
                    let (i, j) = (i.parse().unwrap_or(0), j.parse().unwrap_or(0));
                    let slot = self.step_slot.get(i).copied().unwrap_or(0);
                    let option = self
                        .option_slot
                        .get(i)
                        .and_then(|o| o.get(j))
                        .copied()
                        .unwrap_or(0);
                    let what = if *what == "tag_id" { "tag" } else { what };
                    format!("s{slot}_o{option}_{what}")
                }
                ["steps", i, what] => {
                    let slot = self
                        .step_slot
                        .get(i.parse::<usize>().unwrap_or(0))
                        .copied()
                        .unwrap_or(0);
                    format!("s{slot}_{what}")
                }
                ["steps"] => "s0_question".into(),
                _ => e.field.clone(),
            };
            out.add(&field, e.msg);
        }
        out
    }
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let account_id: i64 = f
        .get("account_id")
        .and_then(|a| a.trim().parse().ok())
        .ok_or(AppError::NotFound)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let p = posted(&f);
    match super::create(
        &state.db,
        caller.merchant_id,
        account.id,
        &p.flow,
        state.clock.now_ms(),
    )
    .await
    {
        Ok(row) => Ok(Redirect::to(&format!("/flows/{}?notice=saved", row.id)).into_response()),
        Err(AppError::Validation(e)) => {
            let errors = p.form_errors(e);
            let editing = Editing {
                id: None,
                account: &account,
                flow: p.flow,
                slots: Some(p.slots),
                errors,
            };
            render_form(&state, &caller, &uri, editing).await
        }
        Err(e) => Err(e),
    }
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let row = super::get(&state.db, caller.merchant_id, id).await?;
    let account = crate::followers::account_of(&state, caller.merchant_id, row.account_id).await?;
    let p = posted(&f);
    match super::update(
        &state.db,
        caller.merchant_id,
        id,
        &p.flow,
        state.clock.now_ms(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/flows/{id}?notice=saved")).into_response()),
        Err(AppError::Validation(e)) => {
            let errors = p.form_errors(e);
            let editing = Editing {
                id: Some(id),
                account: &account,
                flow: p.flow,
                slots: Some(p.slots),
                errors,
            };
            render_form(&state, &caller, &uri, editing).await
        }
        Err(e) => Err(e),
    }
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    super::delete(&state.db, caller.merchant_id, id).await?;
    Ok(Redirect::to("/flows?notice=deleted").into_response())
}

// ---- API ----

/// A flow with how far followers got.
#[derive(Serialize, ToSchema)]
pub struct FlowOut {
    pub id: i64,
    pub account_id: i64,
    #[serde(flatten)]
    pub flow: FlowInput,
    /// Followers who started it, and who finished it.
    pub started: i64,
    pub finished: i64,
    /// Answers per (step from 0, option letter or '' for free text).
    pub answers: Vec<(i64, String, i64)>,
    pub created_at: String,
    pub updated_at: String,
}

async fn flow_out(state: &AppState, caller: &Caller, row: &FlowRow) -> Result<FlowOut, AppError> {
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let (started, finished) = super::store::reach(&state.db, caller.merchant_id, row.id).await?;
    Ok(FlowOut {
        id: row.id,
        account_id: row.account_id,
        flow: row.input(),
        started,
        finished,
        answers: super::store::answer_counts(&state.db, caller.merchant_id, row.id).await?,
        created_at: rfc3339(row.created_at, tz),
        updated_at: rfc3339(row.updated_at, tz),
    })
}

async fn flow_of(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
    flow_id: i64,
) -> Result<FlowRow, AppError> {
    let row = super::get(&state.db, caller.merchant_id, flow_id).await?;
    if row.account_id != account_id {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// The account's conversational flows, newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/flows", tag = "flows",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = Vec<FlowOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<Vec<FlowOut>>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let mut out = vec![];
    for row in super::store::list(&state.db, caller.merchant_id, account.id).await? {
        out.push(flow_out(&state, &caller, &row).await?);
    }
    Ok(Json(out))
}

/// Creates a flow. A reply rule starts it (a reply `{"type": "flow", "flow_id": …}`).
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/flows", tag = "flows",
    params(("account_id" = i64, Path)), request_body = FlowInput,
    responses((status = 201, body = FlowOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    ApiJson(input): ApiJson<FlowInput>,
) -> Result<(StatusCode, Json<FlowOut>), AppError> {
    caller.require(Permission::ManageReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let row = super::create(
        &state.db,
        caller.merchant_id,
        account.id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(flow_out(&state, &caller, &row).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/flows/{flow_id}", tag = "flows",
    params(("account_id" = i64, Path), ("flow_id" = i64, Path)),
    responses((status = 200, body = FlowOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, flow_id)): Path<(i64, i64)>,
) -> Result<Json<FlowOut>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let row = flow_of(&state, &caller, account_id, flow_id).await?;
    Ok(Json(flow_out(&state, &caller, &row).await?))
}

#[utoipa::path(put, path = "/api/v1/accounts/{account_id}/flows/{flow_id}", tag = "flows",
    params(("account_id" = i64, Path), ("flow_id" = i64, Path)), request_body = FlowInput,
    responses((status = 200, body = FlowOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, flow_id)): Path<(i64, i64)>,
    ApiJson(input): ApiJson<FlowInput>,
) -> Result<Json<FlowOut>, AppError> {
    caller.require(Permission::ManageReplies)?;
    flow_of(&state, &caller, account_id, flow_id).await?;
    let row = super::update(
        &state.db,
        caller.merchant_id,
        flow_id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(flow_out(&state, &caller, &row).await?))
}

/// Deletes a flow; 409 while a reply rule starts it.
#[utoipa::path(delete, path = "/api/v1/accounts/{account_id}/flows/{flow_id}", tag = "flows",
    params(("account_id" = i64, Path), ("flow_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, flow_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageReplies)?;
    flow_of(&state, &caller, account_id, flow_id).await?;
    super::delete(&state.db, caller.merchant_id, flow_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
